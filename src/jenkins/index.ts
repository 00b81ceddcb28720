export { JenkinsClient, permissionName, UPDATE_PROBE_BODY, type PermissionProbe } from './client';
export {
  AWS_CREDENTIALS_CLASS,
  CredentialXmlError,
  USERNAME_PASSWORD_CLASS,
  newCredentialXml,
  parseCredentialXml,
  replaceKeyInXml,
} from './credential-xml';
export { classifyError, isJenkinsError, JenkinsError, type JenkinsErrorReason } from './errors';
export { JenkinsPathError, credentialPath, storePath } from './paths';
export type {
  CredentialDocument,
  CredentialKind,
  JenkinsAuth,
  JenkinsClientOptions,
  JobRun,
  NewCredential,
  RunJobOptions,
  StoreRef,
} from './types';
