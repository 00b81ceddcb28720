/**
 * Stands in for the `form-data` package in the Lambda bundles (serverless.yml, custom.esbuild.alias). axios' node
 * build imports it only to build multipart bodies, which nothing here sends; the package would bring mime-db
 * (137 KB minified) and a dozen helpers into every bundle. Building a multipart body fails, saying why.
 */
export default class FormData {
  constructor() {
    throw new Error(
      'multipart/form-data bodies are not available in the key-rotator Lambda bundles: form-data is aliased away (serverless.yml, custom.esbuild.alias)',
    );
  }
}
