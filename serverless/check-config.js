/**
 * A local Serverless Framework plugin: `serverless package` (and so `deploy`) refuses a stage whose configuration
 * file is missing, invalid, or does not fit the stage's parameters, naming the problems and the commands that fix
 * them. Without the file every zip would hold only the handler bundle, and every function would fail at its first
 * cold start. The checks themselves are TypeScript (src/config/deploy-check.ts), loaded through tsx; offline.
 */
import { tsImport } from 'tsx/esm/api';

export default class CheckRotatorConfig {
  /**
   * @param {any} serverless the Serverless instance
   * @param {Record<string, unknown>} _options CLI options
   * @param {{ log: { warning(text: string): void } }} utils the plugin utilities (v3)
   */
  constructor(serverless, _options, { log }) {
    this.serverless = serverless;
    this.log = log;
    this.hooks = {
      // `package`, and `deploy` unless it is given a ready package (--package).
      'before:package:initialize': () => this.check(),
      // `deploy function -f NAME`.
      'before:package:function:package': () => this.check(),
    };
  }

  async check() {
    /** @type {typeof import('../src/config/deploy-check.ts')} */
    const { checkDeployConfig } = await tsImport('../src/config/deploy-check.ts', import.meta.url);
    const provider = this.serverless.getProvider('aws');
    const param = this.serverless.processedInput?.options?.param;
    const result = await checkDeployConfig({
      serviceDir: this.serverless.serviceDir,
      stage: provider.getStage(),
      region: provider.getRegion(),
      declaredParams: this.serverless.configurationInput?.params,
      cliParams: param === undefined ? [] : [param].flat().map(String),
    });
    for (const warning of result.warnings) this.log.warning(warning);
    if (result.error !== undefined)
      throw new this.serverless.classes.Error(result.error, 'KEY_ROTATOR_CONFIG');
  }
}
