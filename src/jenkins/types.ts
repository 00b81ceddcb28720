/** Where a credential lives: the controller's system store, or a folder's store ('team-a' or 'team-a/sub'). */
export type StoreRef = { kind: 'system' } | { kind: 'folder'; path: string };

/**
 * HTTP Basic credentials. Prefer an API token: such requests need no CSRF crumb (jenkins-api.md §3.3).
 * The password mode fetches a crumb and keeps the session cookie for POSTs.
 */
export type JenkinsAuth = { username: string; apiToken: string } | { username: string; password: string };

export interface JenkinsClientOptions {
  /** e.g. `https://ci.example.com` or `https://ci.example.com/jenkins`; a trailing slash is ignored. */
  baseUrl: string;
  auth: JenkinsAuth;
  /** Per request (each attempt), in ms. Default 10000. */
  timeoutMs?: number;
  /** Extra attempts for requests that are safe to repeat. Default 2. */
  retries?: number;
  /**
   * Extra CA certificates (PEM, one per entry) to trust for this controller, in addition to the public roots: a
   * private CA. There is no option to turn verification off.
   */
  caCertificates?: readonly string[];
  /**
   * At most this many requests in flight to this controller from the whole process, shared by every client of the
   * same controller URL (src/jenkins/limit.ts). Default: no limit.
   */
  maxConcurrent?: number;
}

/** The two credential classes that can carry an AWS key pair (jenkins-api.md §6.1, §6.2). */
export type CredentialKind = 'aws' | 'usernamePassword';

export interface NewCredential {
  kind: CredentialKind;
  id: string;
  /** Default GLOBAL; folder stores accept GLOBAL only. */
  scope?: 'GLOBAL' | 'SYSTEM';
  description?: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** AWS only. */
  iamRoleArn?: string;
}

/** A credential as Jenkins returns it from GET config.xml: secrets are redacted by Jenkins. */
export interface CredentialDocument {
  /** The raw XML as received (secrets appear as `<secret-redacted/>`). */
  xml: string;
  /** Root element name, i.e. the Java class. */
  className: string;
  kind: CredentialKind | 'other';
  id: string | undefined;
  scope: string | undefined;
  description: string | undefined;
  /** `accessKey` (AWS) or `username` (usernamePassword); undefined for other kinds. */
  accessKeyId: string | undefined;
  /** Text of every direct child element that holds plain text, entity-decoded, in document order. */
  fields: Record<string, string>;
  /** Names of direct child elements whose content Jenkins redacted. */
  redacted: string[];
}

export interface RunJobOptions {
  /** Upper bound for the whole trigger + queue + build sequence. */
  timeoutMs: number;
  /**
   * Longest delay between polls (default 2000 ms). The first poll comes `firstPollMs` after the trigger, and each
   * wait after it is 1.5× the one before, up to this.
   */
  pollMs?: number;
  /** The wait between the trigger and the first poll (default 100 ms, or `pollMs` if less). */
  firstPollMs?: number;
  signal?: AbortSignal;
}

/** A build result (`SUCCESS`, `UNSTABLE`, `FAILURE`, `NOT_BUILT`, `ABORTED`) or `CANCELLED` (left the queue unbuilt). */
export interface JobRun {
  /** Build number; 0 when the queue item was cancelled before a build started. */
  number: number;
  result: string;
}
