import * as z from 'zod';
import { CaCertificateError, parseCaCertificates } from '../jenkins/tls';
import { SECRETS_BELONG, SECRETS_HINT, isSecretName, secretInConfigText } from './secrets';

export interface Policy {
  /** Rotate once the current key is this old. */
  readonly maxAgeDays: number;
  /** How long to poll for the new key to work everywhere before giving up. */
  readonly propagationTimeoutSeconds: number;
  /** Successful verification calls in a row required before the key counts as propagated. */
  readonly consecutiveSuccesses: number;
  /** Grace between deactivating the old key and deleting it. */
  readonly deleteAfterDays: number;
  /** Per-request timeout for Jenkins calls. */
  readonly jenkinsTimeoutSeconds: number;
  /**
   * The scheduled scan abandons a rotation whose AWSPENDING is older than this (Jenkins back on the current key,
   * the pending key deleted, AWSPENDING removed), so that the next run can rotate again. 0: never, only report.
   */
  readonly abandonStuckAfterHours: number;
  /**
   * A self-rotated key (`rotatedBy: "self"`) is reported as overdue this many days past `maxAgeDays`: the job
   * that rotates it next to Jenkins has stopped running.
   */
  readonly selfRotationOverdueDays: number;
}

export type JenkinsStore = { readonly kind: 'system' } | { readonly kind: 'folder'; readonly path: string };

export interface JenkinsTarget {
  /** Unique within its key; `jenkins-<index>` when not configured. */
  readonly name: string;
  /** Origin plus optional path prefix, without a trailing slash. */
  readonly url: string;
  readonly allowInsecureHttp: boolean;
  readonly user: string;
  /** Secrets Manager secret holding the API token, or the password when `authType` is `password`. */
  readonly tokenSecretId?: string | undefined;
  /**
   * Self-rotation only: the environment variable holding the token (a Jenkins job binds it from Jenkins' own
   * credentials store), since the key may read no secret but its own.
   */
  readonly tokenEnv?: string | undefined;
  readonly authType: 'apiToken' | 'password';
  readonly store: JenkinsStore;
  readonly credentialId: string;
  readonly credentialKind: 'aws' | 'usernamePassword';
  readonly createIfMissing: boolean;
  readonly description?: string | undefined;
  /** Extra CA certificates trusted for this target's TLS, in addition to the public roots (a private CA). */
  readonly caCertificates?: CaCertificates | undefined;
}

/**
 * PEM CA certificates for one Jenkins target: inline (`pem`, one or more certificates), from a Secrets Manager
 * secret holding PEM (`secretId`, read through the 5-minute secret cache), or both.
 */
export interface CaCertificates {
  readonly pem?: string | undefined;
  readonly secretId?: string | undefined;
}

export interface CanaryCheck {
  /** Name of one of the key's Jenkins targets (the first when not configured). */
  readonly jenkins: string;
  readonly job: string;
  readonly parameters: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
}

export interface ManagedKey {
  readonly name: string;
  readonly description?: string | undefined;
  readonly iamUser: string;
  /** The IAM user's account: as configured, else taken from `assumeRoleArn`; undefined means the rotator's own. */
  readonly accountId?: string | undefined;
  readonly assumeRoleArn?: string | undefined;
  readonly externalId?: string | undefined;
  readonly secretId: string;
  /**
   * `lambda` (default): the scheduled scan starts rotations through Secrets Manager and the rotation hook.
   * `self`: `key-rotator self-rotate` rotates the key next to Jenkins, with the key's own credentials; the scan
   * only audits it and reports it overdue.
   */
  readonly rotatedBy: 'lambda' | 'self';
  /**
   * The ECR repositories the key pushes to (names in the key's registry, or repository ARNs): what the emitted
   * least-privilege policy grants (`key-rotator check`). Unset: the repositories its current policy names.
   */
  readonly ecrRepositories?: readonly string[] | undefined;
  readonly jenkins: readonly JenkinsTarget[];
  readonly verify: {
    readonly ecr: {
      readonly region: string;
      readonly registryId?: string | undefined;
      readonly registryLogin: boolean;
    };
    readonly canary?: CanaryCheck | undefined;
  };
  /** Effective policy: built-in defaults ← config `defaults` ← the key's own `policy`. */
  readonly policy: Policy;
}

export interface RotatorConfig {
  readonly version: 1;
  /** Built-in defaults with the config's `defaults` applied. */
  readonly defaults: Policy;
  readonly notifications: {
    readonly snsTopicArn?: string | undefined;
    readonly slackWebhookSecretId?: string | undefined;
  };
  /** The security checks (`key-rotator check`, and the scan once every `everyHours`). */
  readonly checks: {
    /** An active key not used for longer than this is reported (low). */
    readonly unusedKeyDays: number;
    /** How often the scheduled scan runs the checks (default daily; 0: never). */
    readonly everyHours: number;
  };
  /** How hard the scheduled scan may push IAM and Jenkins over a large fleet (docs/fleet.md). */
  readonly fleet: {
    /** Every IAM call of the scan waits for a token of this bucket (calls per second, 1 saved up). */
    readonly iamCallsPerSecond: number;
    /** At most this many rotations started per run; the rest are deferred to the next run. */
    readonly maxRotationsPerRun: number;
    /** At most this many requests in flight to one Jenkins controller (by URL) from one function. */
    readonly jenkinsConcurrency: number;
    /** The scan starts nothing new once the Lambda has less than this left, and saves where it stopped. */
    readonly deadlineReserveSeconds: number;
  };
  readonly keys: readonly ManagedKey[];
}

export const DEFAULT_POLICY: Policy = Object.freeze({
  maxAgeDays: 90,
  propagationTimeoutSeconds: 120,
  consecutiveSuccesses: 3,
  deleteAfterDays: 7,
  jenkinsTimeoutSeconds: 10,
  abandonStuckAfterHours: 24,
  selfRotationOverdueDays: 2,
});

export const DEFAULT_CHECKS: RotatorConfig['checks'] = Object.freeze({ unusedKeyDays: 30, everyHours: 24 });

/**
 * IAM publishes no request rates and throttles with token buckets per API and account (aws-facts.md §2.1); 10 calls
 * a second leaves room for everything else in the account. A daily run of 100 rotations drains 1,000 due keys in
 * ten days while the rotate function's reserved concurrency keeps them from running all at once.
 */
export const DEFAULT_FLEET: RotatorConfig['fleet'] = Object.freeze({
  iamCallsPerSecond: 10,
  maxRotationsPerRun: 100,
  jenkinsConcurrency: 4,
  deadlineReserveSeconds: 60,
});

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:([A-Za-z0-9/_+=.@-]{1,512})$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/[\w+=,.@/-]{1,512}$/;
const SNS_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}(\.fifo)?$/;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * A free-text string, checked first for a secret pasted anywhere in it (as written, URL-encoded or escaped,
 * or as `password=…`), so a secret is reported as such rather than as a format error. The message names the
 * kind of secret and where it starts, never the value.
 */
const text = () =>
  z.string().superRefine((v, ctx) => {
    const why = secretInConfigText(v);
    if (why) ctx.addIssue({ code: 'custom', message: why, input: v, continue: false });
  });

const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 characters of a-z, 0-9 and "-", not starting with "-"');
const accountId = z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account ID');
const secretRef = text()
  .refine((v) => !/^https?:\/\//.test(v), {
    message: `must be a Secrets Manager secret name or ARN, not a URL: ${SECRETS_BELONG}`,
    abort: true,
  })
  .refine((v) => SECRET_ARN.test(v) || /^[A-Za-z0-9/_+=.@-]{1,512}$/.test(v), {
    message: 'must be a Secrets Manager secret name or ARN',
    abort: true,
  });
/** A Jenkins folder or job path such as `team-a/sub`. */
const itemPath = text().refine(
  (v) =>
    v
      .split('/')
      .every((s) => s !== '.' && s !== '..' && s.trim() === s && /^[^?*\\%!@#$^&|<>[\]:;/\p{Cc}]+$/u.test(s)),
  'must be a Jenkins item path like "team-a/sub": "/"-separated names without ?*\\%!@#$^&|<>[]:; or empty parts',
);
const jenkinsUrl = z.string().superRefine((v, ctx) => {
  const url = URL.canParse(v) ? new URL(v) : undefined;
  const fail = (message: string) => ctx.addIssue({ code: 'custom', message, input: v });
  const secret = secretInConfigText(v);
  if (secret) fail(secret);
  else if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    fail('must be an absolute http(s) URL, e.g. https://jenkins.example.com');
  } else if (url.username || url.password) fail(`must not embed credentials: ${SECRETS_BELONG}`);
  else if (url.search || url.hash) fail('must not have a query string or fragment');
});

const policyShape = {
  maxAgeDays: z.int().min(1).max(3650),
  propagationTimeoutSeconds: z.int().min(5).max(900),
  consecutiveSuccesses: z.int().min(1).max(10),
  deleteAfterDays: z.int().min(0).max(365),
  jenkinsTimeoutSeconds: z.int().min(1).max(120),
  abandonStuckAfterHours: z
    .int()
    .min(0)
    .max(24 * 365),
  selfRotationOverdueDays: z.int().min(1).max(365),
};
const policyOverrides = z.strictObject(policyShape).partial();

/**
 * Inline PEM: parsed as X.509 certificates (a private key, or anything else, is refused with the block it is in).
 * Not run through the free-text secret detector: base64 certificate lines look like secret keys to it, and what
 * could be secret here, a private key, is refused by the parse.
 */
const caPem = z
  .string()
  .max(200_000)
  .superRefine((v, ctx) => {
    try {
      parseCaCertificates(v, 'caCertificates.pem');
    } catch (e) {
      if (!(e instanceof CaCertificateError)) throw e;
      ctx.addIssue({
        code: 'custom',
        message: e.message.replace(/^caCertificates\.pem: /, ''),
        input: '[pem]',
      });
    }
  });

const caCertificatesSchema = z
  .strictObject({ pem: caPem.optional(), secretId: secretRef.optional() })
  .refine((c) => c.pem !== undefined || c.secretId !== undefined, {
    message:
      'needs "pem" (PEM text of one or more CA certificates) or "secretId" (a secret holding it), or both',
  });

const targetName = (name: string | undefined, index: number) => name ?? `jenkins-${index}`;
const roleAccount = (arn: string | undefined) => (arn === undefined ? undefined : ROLE_ARN.exec(arn)?.[1]);

const jenkinsTargetSchema = z
  .strictObject({
    name: slug.optional(),
    url: jenkinsUrl,
    allowInsecureHttp: z.boolean().default(false),
    user: text().min(1).max(256),
    tokenSecretId: secretRef.optional(),
    tokenEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name such as JENKINS_TOKEN')
      .optional(),
    authType: z.enum(['apiToken', 'password']).default('apiToken'),
    store: z.union([z.literal('system'), z.strictObject({ folder: itemPath })], {
      error: 'must be "system" or { "folder": "<folder/path>" }',
    }),
    credentialId: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,256}$/, 'must be 1-256 characters of A-Z, a-z, 0-9, "_", "." or "-"'),
    credentialKind: z.enum(['aws', 'usernamePassword']).default('aws'),
    createIfMissing: z.boolean().default(false),
    description: text().max(1024).optional(),
    caCertificates: caCertificatesSchema.optional(),
  })
  .superRefine((t, ctx) => {
    if ((t.tokenSecretId === undefined) === (t.tokenEnv === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [t.tokenEnv === undefined ? 'tokenSecretId' : 'tokenEnv'],
        input: t,
        message:
          t.tokenEnv === undefined
            ? 'required: the secret holding the Jenkins API token (or, for a self-rotated key, tokenEnv)'
            : 'give tokenSecretId or tokenEnv, not both',
      });
    if (!URL.canParse(t.url)) return; // already reported on the field
    const { protocol, hostname } = new URL(t.url);
    if (t.caCertificates && protocol !== 'https:')
      ctx.addIssue({
        code: 'custom',
        path: ['caCertificates'],
        input: t.caCertificates,
        message: `only apply to https URLs (url is ${protocol}//…)`,
      });
    if (protocol === 'http:' && !LOOPBACK_HOSTS.has(hostname) && !t.allowInsecureHttp) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        input: t.url,
        message:
          'plain http would send the Jenkins token in clear: use https, or set "allowInsecureHttp": true',
      });
    }
  });

const managedKeySchema = z
  .strictObject({
    name: slug,
    description: text().max(1024).optional(),
    iamUser: text().regex(
      /^[\w+=,.@-]{1,64}$/,
      'must be an IAM user name: 1-64 characters of A-Z a-z 0-9 _+=,.@-',
    ),
    accountId: accountId.optional(),
    assumeRoleArn: z
      .string()
      .regex(ROLE_ARN, 'must be an IAM role ARN: arn:aws:iam::<12-digit account>:role/<name>')
      .optional(),
    externalId: z
      .string()
      .regex(/^[\w+=,.@:/-]{2,1224}$/, 'must be 2-1224 characters of A-Z a-z 0-9 _+=,.@:/-')
      .optional(),
    secretId: secretRef,
    rotatedBy: z.enum(['lambda', 'self']).default('lambda'),
    ecrRepositories: z
      .array(
        z
          .string()
          .regex(
            /^(arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/,
            'must be an ECR repository name (team/app) or ARN (arn:aws:ecr:REGION:ACCOUNT:repository/NAME)',
          ),
      )
      .min(1)
      .optional(),
    jenkins: z.array(jenkinsTargetSchema).min(1, 'needs at least one Jenkins target'),
    verify: z.strictObject({
      ecr: z.strictObject({
        region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'must be an AWS region such as us-east-1'),
        registryId: accountId.optional(),
        registryLogin: z.boolean().default(true),
      }),
      canary: z
        .strictObject({
          jenkins: slug.optional(),
          job: itemPath,
          parameters: z
            .record(
              z
                .string()
                .min(1)
                .refine((k) => !isSecretName(k), SECRETS_HINT),
              text(),
            )
            .default({}),
          timeoutSeconds: z.int().min(10).max(3600).default(600),
        })
        .optional(),
    }),
    policy: policyOverrides.optional(),
  })
  .superRefine((k, ctx) => {
    const issue = (path: PropertyKey[], message: string) =>
      ctx.addIssue({ code: 'custom', path, message, input: k });
    k.jenkins.forEach((t, j) => {
      if (t.tokenEnv !== undefined && k.rotatedBy !== 'self')
        issue(
          ['jenkins', j, 'tokenEnv'],
          'only for a self-rotated key (rotatedBy "self"): the Lambdas read the token from Secrets Manager (tokenSecretId)',
        );
    });
    if (k.rotatedBy === 'self' && k.assumeRoleArn !== undefined)
      issue(
        ['assumeRoleArn'],
        'a self-rotated key manages itself with its own credentials: no role to assume',
      );
    if (k.externalId !== undefined && k.assumeRoleArn === undefined) {
      issue(['externalId'], 'only allowed together with assumeRoleArn (it is passed to sts:AssumeRole)');
    }
    const roleAcct = roleAccount(k.assumeRoleArn);
    if (k.accountId !== undefined && roleAcct !== undefined && k.accountId !== roleAcct) {
      issue(['accountId'], `${k.accountId} is not the account of assumeRoleArn (${roleAcct})`);
    }
    const names = k.jenkins.map((t, j) => targetName(t.name, j));
    names.forEach((n, j) => {
      const first = names.indexOf(n);
      if (first < j)
        issue(['jenkins', j, 'name'], `duplicate Jenkins target name "${n}" (also jenkins[${first}])`);
    });
    const canary = k.verify.canary?.jenkins;
    if (canary !== undefined && !names.includes(canary)) {
      issue(
        ['verify', 'canary', 'jenkins'],
        `no Jenkins target named "${canary}" (targets: ${names.join(', ')})`,
      );
    }
  });

const rawConfigSchema = z.strictObject({
  version: z.literal(1, {
    error: (iss) => (iss.input === undefined ? 'required' : 'must be 1 (the only config format version)'),
  }),
  defaults: policyOverrides.default({}),
  notifications: z
    .strictObject({
      snsTopicArn: z.string().regex(SNS_ARN, 'must be an SNS topic ARN').optional(),
      slackWebhookSecretId: secretRef.optional(),
    })
    .default({}),
  checks: z
    .strictObject({
      unusedKeyDays: z.int().min(1).max(3650).default(30),
      everyHours: z
        .int()
        .min(0)
        .max(24 * 30)
        .default(24),
    })
    .default(DEFAULT_CHECKS),
  fleet: z
    .strictObject({
      iamCallsPerSecond: z.number().min(0.1).max(100).default(DEFAULT_FLEET.iamCallsPerSecond),
      maxRotationsPerRun: z.int().min(1).max(10_000).default(DEFAULT_FLEET.maxRotationsPerRun),
      jenkinsConcurrency: z.int().min(1).max(64).default(DEFAULT_FLEET.jenkinsConcurrency),
      // Lambda's ceiling is 900 s; the scan needs some time left to report.
      deadlineReserveSeconds: z.int().min(10).max(600).default(DEFAULT_FLEET.deadlineReserveSeconds),
    })
    .default(DEFAULT_FLEET),
  keys: z.array(managedKeySchema).min(1, 'needs at least one managed key'),
});

type RawConfig = z.output<typeof rawConfigSchema>;
type RawKey = RawConfig['keys'][number];

/** The parts of a secret ARN (the name without the 6 random characters a full ARN ends with), or undefined. */
export function parseSecretArn(id: string): { region: string; accountId: string; name: string } | undefined {
  const m = SECRET_ARN.exec(id);
  if (!m?.[1]) return undefined;
  const [, , , region = '', accountId = ''] = id.split(':');
  return { region, accountId, name: m[1].replace(/-[A-Za-z0-9]{6}$/, '') };
}

/** The name a secret id (name or ARN) refers to. */
export const secretNameOf = (id: string): string => parseSecretArn(id)?.name ?? id;

/** True when two secret ids name the same secret: equal, or a full ARN and the name it ends with. */
export function sameSecret(a: string, b: string): boolean {
  const [na, nb] = [parseSecretArn(a)?.name, parseSecretArn(b)?.name];
  return a === b || (na !== undefined && nb === undefined && na === b) || (na === undefined && nb === a);
}

const mergePolicy = (base: Policy, over: Partial<Policy> | undefined): Policy => ({
  ...base,
  ...Object.fromEntries(Object.entries(over ?? {}).filter(([, v]) => v !== undefined)),
});

function toManagedKey(k: RawKey, defaults: Policy): ManagedKey {
  const jenkins = k.jenkins.map((t, j): JenkinsTarget => ({
    ...t,
    name: targetName(t.name, j),
    url: ((u) => u.origin + u.pathname.replace(/\/+$/, ''))(new URL(t.url)),
    store: t.store === 'system' ? { kind: 'system' } : { kind: 'folder', path: t.store.folder },
  }));
  const { canary } = k.verify;
  return {
    ...k,
    accountId: k.accountId ?? roleAccount(k.assumeRoleArn),
    jenkins,
    verify: {
      ecr: k.verify.ecr,
      ...(canary && { canary: { ...canary, jenkins: canary.jenkins ?? targetName(k.jenkins[0]?.name, 0) } }),
    },
    policy: mergePolicy(defaults, k.policy),
  };
}

type IssueSink = (path: PropertyKey[], message: string) => void;
interface KeyEntry {
  /** The key's index in the document. */
  readonly index: number;
  readonly raw: RawKey;
  readonly key: ManagedKey;
}

/**
 * The checks that span keys or need the effective policy, over `entries` (every key, or those valid on their
 * own). `rawDefaults` undefined: the document's defaults are invalid, so the effective policies are unknown.
 */
function checkKeys(
  entries: readonly KeyEntry[],
  rawDefaults: RawConfig['defaults'] | undefined,
  issue: IssueSink,
): void {
  const home = (k: ManagedKey) => k.accountId ?? 'own account';
  const credentials = new Map<string, string>();
  entries.forEach(({ index: i, raw, key: k }, n) => {
    const earlier = entries.slice(0, n);
    const also = (find: (e: ManagedKey) => boolean) => earlier.find((e) => find(e.key))?.index;
    let j = also((e) => e.name === k.name);
    if (j !== undefined) issue(['keys', i, 'name'], `duplicate key name "${k.name}" (also keys[${j}])`);
    j = also((e) => sameSecret(e.secretId, k.secretId));
    if (j !== undefined)
      issue(['keys', i, 'secretId'], `same secret as keys[${j}]: each key needs its own secret`);
    // IAM user names are case-insensitive; two entries for one user would need more than IAM's two keys.
    j = also((e) => e.iamUser.toLowerCase() === k.iamUser.toLowerCase() && home(e) === home(k));
    if (j !== undefined)
      issue(['keys', i, 'iamUser'], `IAM user "${k.iamUser}" is already managed by keys[${j}]`);
    k.jenkins.forEach((t, m) => {
      const id = JSON.stringify([t.url, t.store, t.credentialId]);
      const other = credentials.get(id);
      if (other) issue(['keys', i, 'jenkins', m, 'credentialId'], `same Jenkins credential as ${other}`);
      else credentials.set(id, `keys[${i}].jenkins[${m}]`);
    });
    // With the grace as long as the rotation interval, the deactivated key would still exist at the next
    // rotation, and IAM's limit of two keys per user would block it.
    if (rawDefaults !== undefined && k.policy.deleteAfterDays >= k.policy.maxAgeDays) {
      const own = raw.policy ?? {};
      const path =
        own.deleteAfterDays !== undefined
          ? ['keys', i, 'policy', 'deleteAfterDays']
          : own.maxAgeDays !== undefined
            ? ['keys', i, 'policy', 'maxAgeDays']
            : ['defaults', rawDefaults.deleteAfterDays !== undefined ? 'deleteAfterDays' : 'maxAgeDays'];
      issue(
        path,
        `deleteAfterDays (${k.policy.deleteAfterDays}) must be less than maxAgeDays (${k.policy.maxAgeDays})`,
      );
    }
  });
}

/** Fills defaults, normalises, and runs the checks that span keys or need the effective policy. */
function normalise(raw: RawConfig, ctx: z.RefinementCtx<RawConfig>): RotatorConfig {
  const defaults = mergePolicy(DEFAULT_POLICY, raw.defaults);
  const entries = raw.keys.map((r, index) => ({ index, raw: r, key: toManagedKey(r, defaults) }));
  checkKeys(entries, raw.defaults, (path, message) =>
    ctx.addIssue({ code: 'custom', path, message, input: raw }),
  );
  return {
    version: raw.version,
    defaults,
    notifications: raw.notifications,
    checks: raw.checks,
    fleet: raw.fleet,
    keys: entries.map((e) => e.key),
  };
}

/**
 * For a document that failed the schema: the cross-key checks over the keys that are valid on their own, which
 * zod skips once any field is wrong. Reporting them too means every problem is listed in one go.
 */
export function crossKeyIssuesOfInvalid(value: unknown): { path: PropertyKey[]; message: string }[] {
  const doc = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const keys = Array.isArray(doc['keys']) ? (doc['keys'] as unknown[]) : [];
  const parsedDefaults = policyOverrides.default({}).safeParse(doc['defaults']);
  const rawDefaults = parsedDefaults.success ? parsedDefaults.data : undefined;
  const defaults = mergePolicy(DEFAULT_POLICY, rawDefaults);
  const entries: KeyEntry[] = [];
  keys.forEach((k, index) => {
    const r = managedKeySchema.safeParse(k);
    if (r.success) entries.push({ index, raw: r.data, key: toManagedKey(r.data, defaults) });
  });
  const issues: { path: PropertyKey[]; message: string }[] = [];
  checkKeys(entries, rawDefaults, (path, message) => issues.push({ path, message }));
  return issues;
}

/**
 * The configuration file's schema: shape, defaults, secret checks and cross-field rules; its output is the
 * normalised {@link RotatorConfig}. Prefer `parseConfig`, which also turns issues into a {@link ConfigError}.
 */
export const configSchema = rawConfigSchema.transform(normalise);
