import * as z from 'zod';
import type { ManagedKey, RotatorConfig } from '../config';
import { isSecretName } from '../config/secrets';
import { InputError, messageOf, UnsafeStateError } from '../domain/errors';
import { parseKeySecret } from '../domain/keys';
import { describeSecretFinding, findSecretInText } from '../domain/secret-text';
import type { RotationEngine } from './engine';
import { systemClock, type KeyStore, type Log, type SecretStore } from './ports';
import { rotateNow, type RotateNowOptions, type RotateNowReport } from './rotate-now';

/**
 * Emergency rotation: a leaked key is taken out of service now, and replaced when it is the key Jenkins uses.
 *
 * - The target is a managed IAM user (its AWSCURRENT key is the compromised one) or a leaked access key id
 *   (its owner found with GetAccessKeyLastUsed). Everything is validated and resolved, reading only, before
 *   the first write: bad input changes nothing.
 * - The AWSCURRENT key: the four steps run in-process (`rotateNow`, emergency mode). The compromised key is
 *   deactivated as soon as the new key is stored, even if Jenkins or verification then fail: a leak outranks
 *   a red pipeline. If the rotation fails before that point, the key is deactivated anyway, without a
 *   replacement. With `deleteOld` it is deleted right after.
 * - Another key of a managed user (an old inactive key, or the pending key of a rotation): revoked (deleted on
 *   request), Jenkins put back on the current key if it held it, a rotation that created it abandoned; no
 *   needless rotation.
 * - A key of a user this rotator does not manage is never touched: bad input for a human, a loud "unmanaged"
 *   result for an AWS Health event.
 */

/** What the emergency needs from the composition root (`Composition` provides it). */
export interface EmergencyComposition {
  readonly config: RotatorConfig;
  readonly engine: RotationEngine;
  readonly secrets: SecretStore;
  keyStoreFor(key: ManagedKey): KeyStore;
  accessKeyOwner(key: ManagedKey, accessKeyId: string): Promise<string | undefined>;
  ownAccountId(): Promise<string>;
}

export interface EmergencyInput {
  userName?: string;
  accessKeyId?: string;
  reason: string;
  deleteOld: boolean;
  accountId?: string;
}

export interface EmergencyOptions extends Pick<
  RotateNowOptions,
  'deadline' | 'signal' | 'onProgress' | 'onStep' | 'clock'
> {
  /** Where the outcome is logged: at warn level when all went well, at error level otherwise. */
  log?: Log;
}

/**
 * - `rotated`: the compromised key was AWSCURRENT's; it is revoked and the new key is current, in Jenkins, verified.
 * - `revoked`: the leaked key was not the current one; it is revoked, nothing else needed doing.
 * - `contained`: the leaked key is revoked, but something else failed (e.g. Jenkins): action needed.
 * - `failed`: the leaked key could NOT be taken out of service: act by hand, now.
 */
export type EmergencyOutcome = 'rotated' | 'revoked' | 'contained' | 'failed';

export type KeyState = 'Active' | 'Inactive' | 'deleted' | 'absent' | 'unknown';

export interface EmergencyReport {
  reason: string;
  key: string;
  user: string;
  accountId?: string;
  /** What the caller named. */
  target: { userName: string } | { accessKeyId: string };
  compromisedKey: {
    accessKeyId: string;
    /** Was it AWSCURRENT's key (then it is rotated), or another key of the user (then it is only revoked)? */
    wasCurrent: boolean | 'unknown';
    before: KeyState;
    after: KeyState;
  };
  newKeyId?: string;
  outcome: EmergencyOutcome;
  /** One plain sentence: which key was deactivated or deleted, what failed, what to do. */
  summary: string;
  /** The in-process rotation, when the compromised key was the current one. */
  rotation?: RotateNowReport;
  actions: string[];
  failures: string[];
  warnings: string[];
  durationMs: number;
}

const IAM_USER = /^[\w+=,.@-]{1,64}$/;
const USER_KEY_ID = /^AKIA[A-Z0-9]{12,124}$/;
const ANY_KEY_ID = /^(AKIA|ASIA)[A-Z0-9]{12,124}$/;
const FIELDS = ['userName', 'accessKeyId', 'reason', 'deleteOld', 'accountId'];

const inputSchema = z.strictObject({
  userName: z
    .string()
    .regex(IAM_USER, 'must be an IAM user name: 1-64 characters of A-Z a-z 0-9 _+=,.@-')
    .optional(),
  accessKeyId: z
    .string()
    .superRefine((v, ctx) => {
      if (/^ASIA/.test(v))
        ctx.addIssue({
          code: 'custom',
          input: v,
          message:
            'is a temporary key of an STS session, not of an IAM user: it cannot be deactivated (revoke the sessions of the role instead)',
        });
      else if (!USER_KEY_ID.test(v))
        ctx.addIssue({
          code: 'custom',
          input: v,
          message: 'must be an access key id: AKIA and 16 capitals or digits',
        });
    })
    .optional(),
  reason: z
    .string({
      error: (iss) => (iss.input === undefined ? 'required: say why (it goes into the report)' : undefined),
    })
    .trim()
    .min(1, 'must not be empty: say why (it goes into the report)')
    .max(1000)
    .superRefine((v, ctx) => {
      const found = findSecretInText(v);
      if (found)
        ctx.addIssue({
          code: 'custom',
          input: v,
          message: `holds ${describeSecretFinding(found)}: never paste a secret here (the access key id is enough)`,
        });
    }),
  deleteOld: z.boolean().default(false),
  accountId: z
    .string()
    .regex(/^\d{12}$/, 'must be a 12-digit AWS account ID')
    .optional(),
});

interface Issue {
  field: string;
  message: string;
}

/** Issues named in one error; a malformed event with thousands of entries gets the first ones and a count. */
const MAX_ISSUES = 10;

function inputError(all: Issue[], what = 'emergency input'): InputError {
  const issues = all.slice(0, MAX_ISSUES);
  const more = all.length > issues.length ? `; and ${all.length - issues.length} more` : '';
  return new InputError(
    `invalid ${what} (nothing was changed): ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}${more}`,
    {
      fields: [...new Set(issues.map((i) => i.field))],
      issues,
      ...(more ? { more: all.length - issues.length } : {}),
    },
  );
}

function issuesOf(error: z.ZodError): Issue[] {
  return error.issues.flatMap((i): Issue[] => {
    if (i.code === 'unrecognized_keys')
      return i.keys.map((k) => ({
        field: [...i.path, k].join('.'),
        message: isSecretName(k)
          ? 'unknown field: never send a secret here, the key id is enough'
          : `unknown field (expected ${FIELDS.join(', ')})`,
      }));
    return [{ field: i.path.join('.') || '(payload)', message: i.message }];
  });
}

/** Validates an emergency request; throws an {@link InputError} naming every bad field. Never echoes values. */
export function parseEmergencyInput(input: unknown): EmergencyInput {
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw inputError([
      {
        field: '(payload)',
        message:
          'must be a JSON object: {"userName": "<IAM user>" or "accessKeyId": "<leaked key id>", "reason": "...", "deleteOld"?: true, "accountId"?: "<12 digits>"}',
      },
    ]);
  const raw = input as Record<string, unknown>;
  const r = inputSchema.safeParse(raw);
  const issues = r.success ? [] : issuesOf(r.error);
  if (raw['userName'] === undefined && raw['accessKeyId'] === undefined)
    issues.push({
      field: 'userName',
      message: 'required: name the IAM user (userName) or the leaked key (accessKeyId)',
    });
  if (raw['userName'] !== undefined && raw['accessKeyId'] !== undefined)
    issues.push({ field: 'accessKeyId', message: 'give userName or accessKeyId, not both' });
  if (!r.success || issues.length) throw inputError(issues);
  const d = r.data;
  return {
    reason: d.reason,
    deleteOld: d.deleteOld,
    ...(d.userName !== undefined ? { userName: d.userName } : {}),
    ...(d.accessKeyId !== undefined ? { accessKeyId: d.accessKeyId } : {}),
    ...(d.accountId !== undefined ? { accountId: d.accountId } : {}),
  };
}

interface ManagedTarget {
  kind: 'managed';
  key: ManagedKey;
  accessKeyId: string;
  wasCurrent: boolean | 'unknown';
  /** Why AWSCURRENT could not be read, when `wasCurrent` is unknown. */
  currentError?: string;
  status: 'Active' | 'Inactive' | 'absent';
}

interface UnmanagedTarget {
  kind: 'unmanaged';
  accessKeyId: string;
  owner?: string;
  accountId?: string;
  message: string;
}

const sameUser = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The managed keys in `accountId` (all of them without one); a key without an accountId is in our own. */
async function managedIn(comp: EmergencyComposition, accountId?: string): Promise<readonly ManagedKey[]> {
  if (accountId === undefined) return comp.config.keys;
  const own = comp.config.keys.some((k) => k.accountId === undefined) ? await comp.ownAccountId() : undefined;
  return comp.config.keys.filter((k) => (k.accountId ?? own) === accountId);
}

async function currentKeyId(comp: EmergencyComposition, key: ManagedKey): Promise<string> {
  const raw = await comp.secrets.getValue(key.secretId, { stage: 'AWSCURRENT' });
  const current = parseKeySecret(raw, `AWSCURRENT of ${key.secretId}`);
  if (!sameUser(current.userName, key.iamUser))
    throw new UnsafeStateError(
      `secret ${key.secretId} holds a key of user ${current.userName}, but the configuration manages ${key.iamUser}`,
    );
  return current.accessKeyId;
}

async function statusOf(comp: EmergencyComposition, key: ManagedKey, accessKeyId: string) {
  const keys = await comp.keyStoreFor(key).list(key.iamUser);
  return keys.find((k) => k.accessKeyId === accessKeyId)?.status ?? 'absent';
}

/** Reads what the emergency will act on: is the key AWSCURRENT's, and its status. */
async function targetFor(
  comp: EmergencyComposition,
  key: ManagedKey,
  accessKeyId: string,
): Promise<ManagedTarget> {
  let wasCurrent: boolean | 'unknown';
  let currentError: string | undefined;
  try {
    wasCurrent = (await currentKeyId(comp, key)) === accessKeyId;
  } catch (err) {
    // The leaked key can still be revoked; it just cannot be replaced.
    wasCurrent = 'unknown';
    currentError = messageOf(err);
  }
  const status = await statusOf(comp, key, accessKeyId);
  return { kind: 'managed', key, accessKeyId, wasCurrent, status, ...(currentError ? { currentError } : {}) };
}

/** Finds the managed key a request is about, reading only. Throws an {@link InputError} for a bad userName. */
async function resolve(
  comp: EmergencyComposition,
  input: Pick<EmergencyInput, 'userName' | 'accessKeyId' | 'accountId'>,
): Promise<ManagedTarget | UnmanagedTarget> {
  const candidates = await managedIn(comp, input.accountId);
  const inAccount = input.accountId ? ` in account ${input.accountId}` : '';
  if (input.userName !== undefined) {
    const userName = input.userName;
    if (!candidates.length) throw inputError([{ field: 'accountId', message: `no managed key${inAccount}` }]);
    const matches = candidates.filter((k) => sameUser(k.iamUser, userName));
    if (!matches.length)
      throw inputError([
        {
          field: 'userName',
          message: `${userName} is not a managed IAM user${inAccount} (managed: ${[...new Set(candidates.map((k) => k.iamUser))].join(', ')})`,
        },
      ]);
    const [key, ...more] = matches;
    if (!key || more.length)
      throw inputError([
        {
          field: 'accountId',
          message: `IAM user ${userName} is managed in several accounts (${matches.map((k) => k.accountId ?? 'own').join(', ')}): give accountId`,
        },
      ]);
    let current: string;
    try {
      current = await currentKeyId(comp, key);
    } catch (err) {
      throw new UnsafeStateError(
        `cannot tell which key of ${key.iamUser} is compromised, nothing was changed: ${messageOf(err)}. Name the leaked key with accessKeyId instead`,
      );
    }
    return {
      kind: 'managed',
      key,
      accessKeyId: current,
      wasCurrent: true,
      status: await statusOf(comp, key, current),
    };
  }

  const accessKeyId = input.accessKeyId ?? '';
  if (!candidates.length) return noManagedKey(accessKeyId, inAccount);
  const found = await lookUpOwner(comp, candidates, accessKeyId);
  if (found?.key) return targetFor(comp, found.key, accessKeyId);
  if (found) return ownedByOther(accessKeyId, found.owner, found.account || input.accountId);
  // GetAccessKeyLastUsed knew no owner (another account, a deleted key, or no permission): ask our users directly.
  for (const key of candidates)
    if ((await comp.keyStoreFor(key).list(key.iamUser)).some((k) => k.accessKeyId === accessKeyId))
      return targetFor(comp, key, accessKeyId);
  return noOwnerFound(accessKeyId, inAccount);
}

/**
 * The owner of a key id, by GetAccessKeyLastUsed in each account of `candidates` (one call per account)
 * until one names it; `key` is the managed key of that owner, if any.
 */
async function lookUpOwner(
  comp: EmergencyComposition,
  candidates: readonly ManagedKey[],
  accessKeyId: string,
): Promise<{ owner: string; account: string; key?: ManagedKey } | undefined> {
  const byAccount = new Map<string, ManagedKey[]>();
  for (const k of candidates)
    byAccount.set(k.accountId ?? '', [...(byAccount.get(k.accountId ?? '') ?? []), k]);
  for (const [account, keys] of byAccount) {
    const owner = await comp.accessKeyOwner(keys[0]!, accessKeyId);
    if (owner === undefined) continue;
    const key = keys.find((k) => sameUser(k.iamUser, owner));
    return { owner, account, ...(key ? { key } : {}) };
  }
  return undefined;
}

const noManagedKey = (accessKeyId: string, inAccount: string): UnmanagedTarget => ({
  kind: 'unmanaged',
  accessKeyId,
  message: `no managed key${inAccount}; key ${accessKeyId} was not touched`,
});

const ownedByOther = (accessKeyId: string, owner: string, accountId?: string): UnmanagedTarget => ({
  kind: 'unmanaged',
  accessKeyId,
  owner,
  ...(accountId ? { accountId } : {}),
  message: `key ${accessKeyId} belongs to IAM user ${owner}, which this rotator does not manage: it was NOT touched`,
});

const noOwnerFound = (accessKeyId: string, inAccount: string): UnmanagedTarget => ({
  kind: 'unmanaged',
  accessKeyId,
  message: `key ${accessKeyId} is not a key of any managed user${inAccount} (IAM names no owner for it that this rotator may see: a key of another account, of a user outside its path, or deleted): it was NOT touched`,
});

const describeState = (before: KeyState, after: KeyState): string => {
  if (after === 'deleted') return before === 'Active' ? 'DEACTIVATED and DELETED' : 'DELETED';
  if (after === 'Inactive') return before === 'Active' ? 'DEACTIVATED' : 'inactive (it already was)';
  if (after === 'absent') return 'gone (it was already deleted)';
  if (after === 'Active') return 'STILL ACTIVE';
  return 'in an unknown state (IAM could not be read)';
};

async function execute(
  comp: EmergencyComposition,
  t: ManagedTarget,
  input: EmergencyInput,
  opts: EmergencyOptions,
): Promise<EmergencyReport> {
  const clock = opts.clock ?? systemClock;
  const started = clock.now().getTime();
  const { key, accessKeyId: id } = t;
  const report: EmergencyReport = {
    reason: input.reason,
    key: key.name,
    user: key.iamUser,
    ...(key.accountId ? { accountId: key.accountId } : {}),
    target: input.userName !== undefined ? { userName: input.userName } : { accessKeyId: id },
    compromisedKey: { accessKeyId: id, wasCurrent: t.wasCurrent, before: t.status, after: t.status },
    outcome: 'failed',
    summary: '',
    actions: [],
    failures: [],
    warnings: [],
    durationMs: 0,
  };
  opts.log?.warn('emergency rotation started', {
    reason: input.reason,
    key: key.name,
    user: key.iamUser,
    compromisedKeyId: id,
    wasCurrent: t.wasCurrent,
    deleteOld: input.deleteOld,
  });

  if (t.wasCurrent === true) {
    const rotation = await rotateNow(comp, key, {
      emergency: true,
      deleteOld: input.deleteOld,
      // Ten invocations for one leak (at-least-once delivery, an operator pressing twice): one rotates, the others
      // wait for it and report its result instead of taking it over.
      replaceKeyId: id,
      ...pickDefined(opts, ['deadline', 'signal', 'onProgress', 'onStep', 'clock']),
    });
    report.rotation = rotation;
    if (rotation.newKeyId && rotation.newKeyId !== id) report.newKeyId = rotation.newKeyId;
    if (rotation.outcome === 'superseded')
      report.actions.push(
        `another rotation replaced the compromised key with ${rotation.newKeyId ?? '?'} (current, in Jenkins and verified by that rotation)`,
      );
    report.warnings.push(...rotation.warnings);
    if (rotation.outcome === 'failed')
      report.failures.push(
        `the rotation failed at ${rotation.failedStep ?? '?'}: ${rotation.error?.message ?? 'unknown error'}`,
      );
  } else if (t.wasCurrent === false) {
    try {
      const r = await comp.engine.retireKey(key, id, { delete: input.deleteOld });
      report.actions.push(...r.actions);
      report.failures.push(...r.failures);
    } catch (err) {
      report.failures.push(`revoking the leaked key failed: ${messageOf(err)}`);
    }
  } else {
    report.failures.push(
      `could not read AWSCURRENT of ${key.secretId} (${t.currentError ?? 'unknown error'}): the leaked key is revoked, but nothing was rotated`,
    );
  }

  // Containment, whatever happened above: the leaked key must end inactive (deleted, if asked).
  const gone = (s: 'Active' | 'Inactive' | 'absent'): KeyState =>
    s === 'absent' && t.status !== 'absent' ? 'deleted' : s;
  let after: KeyState = await statusOf(comp, key, id).then(gone, () => 'unknown' as const);
  if (after === 'Active' || after === 'unknown' || (input.deleteOld && after === 'Inactive')) {
    try {
      const r = await comp.engine.revokeKey(key, id, { delete: input.deleteOld });
      report.actions.push(...r.actions);
      if (r.before === 'Active' && t.wasCurrent === true)
        report.warnings.push(
          `the compromised key ${id} was revoked after the rotation failed: Jenkins has no working key until the rotation is finished`,
        );
      after = r.after;
    } catch (err) {
      report.failures.push(
        `could not ${after === 'Inactive' ? 'delete' : 'deactivate'} the leaked key ${id}: ${messageOf(err)}`,
      );
    }
  }
  report.compromisedKey.after = after;

  const contained = after === 'Inactive' || after === 'deleted' || after === 'absent';
  report.outcome = !contained
    ? 'failed'
    : report.failures.length
      ? 'contained'
      : t.wasCurrent === true
        ? 'rotated'
        : 'revoked';
  report.summary = summarize(report, input);
  report.durationMs = clock.now().getTime() - started;
  const ok = report.outcome === 'rotated' || report.outcome === 'revoked';
  // Loud either way: an emergency is never routine. Ids only; the report holds no key material.
  if (ok) opts.log?.warn(`emergency rotation ${report.outcome}: ${report.summary}`, { report });
  else opts.log?.error(`EMERGENCY ROTATION ${report.outcome.toUpperCase()}: ${report.summary}`, { report });
  return report;
}

function summarize(r: EmergencyReport, input: EmergencyInput): string {
  const { accessKeyId: id, before, after } = r.compromisedKey;
  const leaked = `${r.compromisedKey.wasCurrent === true ? 'Compromised' : 'Leaked'} key ${id} of ${r.user} is ${describeState(before, after)}`;
  const failed = r.failures.join('; ');
  switch (r.outcome) {
    case 'rotated':
      return `${leaked}; the new key ${r.newKeyId ?? '?'} is current, in Jenkins and verified.`;
    case 'revoked':
      return `${leaked}; it was not the current key, so nothing was rotated.`;
    case 'contained':
      return `${leaked}, BUT: ${failed}. Action needed: fix the cause, then run the emergency rotation for ${r.user} again.`;
    case 'failed':
      return `${leaked}: ${failed}. Deactivate it by hand NOW: aws iam update-access-key --user-name ${r.user} --access-key-id ${id} --status Inactive${input.deleteOld ? ' (then delete-access-key)' : ''}`;
  }
}

function pickDefined<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/**
 * The emergency rotation, for the Lambda and the CLI: validates `input` (an {@link InputError} naming the
 * field, and nothing changed, when it is bad), then revokes the compromised key and rotates when it was the
 * current one. Returns the report whatever the outcome; only invalid input and failures to read before acting
 * throw.
 */
export async function emergencyRotate(
  comp: EmergencyComposition,
  input: unknown,
  opts: EmergencyOptions = {},
): Promise<EmergencyReport> {
  const parsed = parseEmergencyInput(input);
  const target = await resolve(comp, parsed);
  if (target.kind === 'unmanaged') throw inputError([{ field: 'accessKeyId', message: target.message }]);
  return execute(comp, target, parsed, opts);
}

// ---- AWS Health --------------------------------------------------------------------------------------------

export const HEALTH_EVENT_TYPE = 'AWS_RISK_CREDENTIALS_EXPOSED';
export const HEALTH_REASON = 'AWS Health: credentials exposed';

/**
 * The EventBridge event AWS Health sends (detail-type "AWS Health Event", source "aws.health"). For
 * AWS_RISK_CREDENTIALS_EXPOSED the exposed key id is `detail.affectedEntities[].entityValue`; `resources` is
 * usually empty but is read too. `detail.service` has been "RISK" and, later, "ABUSE": not checked.
 */
const healthEventSchema = z.object({
  account: z.string().optional(),
  resources: z.array(z.string()).optional(),
  detail: z.object({
    eventArn: z.string().optional(),
    eventTypeCode: z.string(),
    affectedEntities: z
      .array(z.object({ entityValue: z.string().optional(), awsAccountId: z.string().optional() }))
      .optional(),
  }),
});

export function isHealthEvent(event: unknown): boolean {
  if (event === null || typeof event !== 'object') return false;
  const e = event as Record<string, unknown>;
  return e['source'] === 'aws.health' || e['detail-type'] === 'AWS Health Event';
}

export interface ExposedKey {
  accessKeyId: string;
  accountId?: string;
}

/** The key ids an AWS Health credentials-exposed event names; an {@link InputError} for any other event. */
export function exposedKeysOf(event: unknown): { eventArn?: string; keys: ExposedKey[] } {
  const r = healthEventSchema.safeParse(event);
  if (!r.success) throw inputError(issuesOf(r.error), 'AWS Health event');
  const { detail, account, resources } = r.data;
  if (detail.eventTypeCode !== HEALTH_EVENT_TYPE)
    throw inputError(
      [
        {
          field: 'detail.eventTypeCode',
          message: `is ${detail.eventTypeCode}; only ${HEALTH_EVENT_TYPE} is handled`,
        },
      ],
      'AWS Health event',
    );
  const acct = (v: string | undefined) => (v && /^\d{12}$/.test(v) ? v : undefined);
  const found = [
    ...(detail.affectedEntities ?? []).map((e) => ({
      value: e.entityValue,
      accountId: acct(e.awsAccountId) ?? acct(account),
    })),
    ...(resources ?? []).map((value) => ({ value, accountId: acct(account) })),
  ];
  const keys = new Map<string, ExposedKey>();
  for (const { value, accountId } of found)
    if (value && ANY_KEY_ID.test(value) && !keys.has(value))
      keys.set(value, { accessKeyId: value, ...(accountId ? { accountId } : {}) });
  if (!keys.size)
    throw inputError(
      [
        {
          field: 'detail.affectedEntities',
          message: 'names no access key id (expected entityValue "AKIA…")',
        },
      ],
      'AWS Health event',
    );
  return { ...(detail.eventArn ? { eventArn: detail.eventArn } : {}), keys: [...keys.values()] };
}

/** An exposed key the emergency did not act on: not ours, or it could not even be looked at. */
export type HealthKeyNotHandled =
  | (ExposedKey & { outcome: 'unmanaged'; owner?: string; message: string })
  | (ExposedKey & { outcome: 'error'; message: string });

export type HealthKeyResult =
  (ExposedKey & { outcome: EmergencyOutcome; report: EmergencyReport }) | HealthKeyNotHandled;

/**
 * What one Health event may make the function do and say, however many keys it lists. A managed key is always
 * acted on and always listed (there are at most two per managed user); the rest are bounded.
 */
export const HEALTH_LIMITS = {
  /** Exposed keys that no managed user holds whose owner is looked up (GetAccessKeyLastUsed); the rest are counted. */
  ownerLookups: 20,
  /** Unmanaged keys and errors listed one by one in the report and the log (errors first); the rest are counted. */
  listed: 20,
  /** Length of the report's summary, in characters. */
  summaryChars: 4000,
  /** Key ids per log line for the keys not listed one by one. */
  idsPerLogLine: 500,
} as const;

export interface HealthCounts {
  /** Distinct access key ids the event names. */
  exposed: number;
  /** Keys of managed users: each one acted on (its outcome below, or an error before acting). */
  managed: number;
  rotated: number;
  revoked: number;
  contained: number;
  failed: number;
  /** Keys of users this rotator does not manage (or of no user it may see): never touched. */
  unmanaged: number;
  /** Keys that could not be looked at, or whose emergency failed before acting. */
  errors: number;
  /** Exposed keys held by no managed user whose owner was not looked up (beyond `HEALTH_LIMITS.ownerLookups`). */
  ownersNotLookedUp: number;
  /** Unmanaged and error entries left out of `results` (beyond `HEALTH_LIMITS.listed`); the log names them. */
  omitted: number;
}

export interface HealthReport {
  source: 'aws.health';
  eventArn?: string;
  reason: string;
  /** Every managed key's result and at most `HEALTH_LIMITS.listed` unmanaged keys and errors, in event order. */
  results: HealthKeyResult[];
  counts: HealthCounts;
  /** `handled` when every exposed key was rotated or revoked; `failed` otherwise (unmanaged keys included). */
  outcome: 'handled' | 'failed';
  /** The counts, then the keys' summaries, managed keys first; at most `HEALTH_LIMITS.summaryChars` characters. */
  summary: string;
}

type Resolved = HealthKeyNotHandled | { exposed: ExposedKey; key: ManagedKey };

/**
 * Which exposed keys are managed ones, with a bounded number of IAM calls whatever the event lists: each managed
 * user's keys are listed once (ListAccessKeys) and matched locally; the owner of a key no managed user holds is
 * looked up (GetAccessKeyLastUsed, for the report) only for the first `HEALTH_LIMITS.ownerLookups` of them.
 */
async function resolveExposed(
  comp: EmergencyComposition,
  keys: readonly ExposedKey[],
): Promise<{ resolved: Resolved[]; ownersNotLookedUp: number }> {
  const candidatesByAccount = new Map<string, Promise<readonly ManagedKey[]>>();
  const listings = new Map<ManagedKey, { ids: Set<string> } | { error: string }>();
  const listed = async (key: ManagedKey) => {
    let l = listings.get(key);
    if (!l) {
      l = await comp
        .keyStoreFor(key)
        .list(key.iamUser)
        .then(
          (ks) => ({ ids: new Set(ks.map((k) => k.accessKeyId)) }),
          (err: unknown) => ({ error: messageOf(err) }),
        );
      listings.set(key, l);
    }
    return { key, ...l };
  };
  const resolved: Resolved[] = [];
  let lookups = 0;
  let ownersNotLookedUp = 0;
  for (const exposed of keys) {
    const { accessKeyId: id, accountId } = exposed;
    const unmanaged = (t: UnmanagedTarget) =>
      resolved.push({
        ...exposed,
        outcome: 'unmanaged',
        ...(t.owner ? { owner: t.owner } : {}),
        message: t.message,
      });
    const error = (message: string) => resolved.push({ ...exposed, outcome: 'error', message });
    if (id.startsWith('ASIA')) {
      unmanaged({
        kind: 'unmanaged',
        accessKeyId: id,
        message: `key ${id} is a temporary STS key, not an IAM user's: it was NOT touched (revoke the role's sessions)`,
      });
      continue;
    }
    try {
      let pending = candidatesByAccount.get(accountId ?? '');
      if (!pending) candidatesByAccount.set(accountId ?? '', (pending = managedIn(comp, accountId)));
      const candidates = await pending;
      const inAccount = accountId ? ` in account ${accountId}` : '';
      if (!candidates.length) {
        unmanaged(noManagedKey(id, inAccount));
        continue;
      }
      const lists = [];
      for (const key of candidates) lists.push(await listed(key));
      const holder = lists.find((l) => 'ids' in l && l.ids.has(id));
      if (holder) {
        resolved.push({ exposed, key: holder.key });
        continue;
      }
      const unlisted = lists.flatMap((l) => ('error' in l ? [`${l.key.iamUser}: ${l.error}`] : []));
      const unsure = () =>
        error(
          `could not tell whether key ${id} is a managed key: listing the keys of ${unlisted.join('; ')}`,
        );
      if (lookups >= HEALTH_LIMITS.ownerLookups) {
        ownersNotLookedUp++;
        if (unlisted.length) unsure();
        else
          unmanaged({
            kind: 'unmanaged',
            accessKeyId: id,
            message: `key ${id} is not a key of any managed user${inAccount} (its owner was not looked up: only the first ${HEALTH_LIMITS.ownerLookups} are): it was NOT touched`,
          });
        continue;
      }
      lookups++;
      const found = await lookUpOwner(comp, candidates, id);
      if (found?.key) resolved.push({ exposed, key: found.key });
      else if (found) unmanaged(ownedByOther(id, found.owner, found.account || accountId));
      else if (unlisted.length) unsure();
      else unmanaged(noOwnerFound(id, inAccount));
    } catch (err) {
      error(messageOf(err));
    }
  }
  return { resolved, ownersNotLookedUp };
}

/**
 * An AWS Health AWS_RISK_CREDENTIALS_EXPOSED event turned into emergency rotations, one per exposed key of a
 * managed user, with the reason "AWS Health: credentials exposed" and without deleting (a human decides that).
 * Keys of users this rotator does not manage are reported loudly and never touched. All keys are resolved
 * before any is acted on. The work and the report are bounded (`HEALTH_LIMITS`) whatever the event lists.
 */
export async function emergencyFromHealthEvent(
  comp: EmergencyComposition,
  event: unknown,
  opts: EmergencyOptions = {},
): Promise<HealthReport> {
  const { eventArn, keys } = exposedKeysOf(event);
  const reason = `${HEALTH_REASON}${eventArn ? ` (${eventArn})` : ''}`;
  const { resolved, ownersNotLookedUp } = await resolveExposed(comp, keys);

  // The keys not acted on: errors first, then unmanaged ones, are listed (and logged) one by one up to the limit.
  const notHandled = resolved.filter((r): r is HealthKeyNotHandled => !('key' in r));
  const shown = new Set(
    [
      ...notHandled.filter((r) => r.outcome === 'error'),
      ...notHandled.filter((r) => r.outcome !== 'error'),
    ].slice(0, HEALTH_LIMITS.listed),
  );
  for (const r of notHandled)
    if (shown.has(r)) opts.log?.error(`exposed key not handled: ${r.message}`, { eventArn, ...r });
  for (const outcome of ['error', 'unmanaged'] as const) {
    const ids = notHandled.filter((r) => r.outcome === outcome && !shown.has(r)).map((r) => r.accessKeyId);
    const per = HEALTH_LIMITS.idsPerLogLine;
    for (let i = 0; i < ids.length; i += per)
      opts.log?.error(
        `${ids.length} more exposed keys not handled (${outcome}), not listed one by one (part ${i / per + 1} of ${Math.ceil(ids.length / per)}): they were NOT touched`,
        { eventArn, outcome, accessKeyIds: ids.slice(i, i + per) },
      );
  }

  const results: HealthKeyResult[] = [];
  for (const item of resolved) {
    if (!('key' in item)) {
      if (shown.has(item)) results.push(item);
      continue;
    }
    const { exposed, key } = item;
    try {
      // Resolved again just before acting: an earlier key of this event may have rotated the same user.
      const target = await targetFor(comp, key, exposed.accessKeyId);
      const input: EmergencyInput = { accessKeyId: exposed.accessKeyId, reason, deleteOld: false };
      const report = await execute(comp, target, input, opts);
      results.push({ ...exposed, outcome: report.outcome, report });
    } catch (err) {
      const message = `emergency rotation of ${exposed.accessKeyId} failed before acting: ${messageOf(err)}`;
      opts.log?.error(message, { eventArn, ...exposed });
      results.push({ ...exposed, outcome: 'error', message });
    }
  }

  const managed = resolved.length - notHandled.length;
  const managedResults = results.filter((r) => 'report' in r);
  const count = (o: HealthKeyResult['outcome']) => managedResults.filter((r) => r.outcome === o).length;
  const counts: HealthCounts = {
    exposed: keys.length,
    managed,
    rotated: count('rotated'),
    revoked: count('revoked'),
    contained: count('contained'),
    failed: count('failed'),
    unmanaged: notHandled.filter((r) => r.outcome === 'unmanaged').length,
    errors: notHandled.filter((r) => r.outcome === 'error').length + (managed - managedResults.length),
    ownersNotLookedUp,
    omitted: notHandled.length - shown.size,
  };
  const outcome = counts.rotated + counts.revoked === counts.exposed ? 'handled' : 'failed';
  const report: HealthReport = {
    source: 'aws.health',
    ...(eventArn ? { eventArn } : {}),
    reason,
    results,
    counts,
    outcome,
    summary: healthSummary(counts, results),
  };
  const line = `AWS Health event ${outcome}: ${countsText(counts)}`;
  if (outcome === 'handled') opts.log?.warn(line, { eventArn, counts });
  else opts.log?.error(line, { eventArn, counts });
  return report;
}

/** "2000 exposed keys: 1 rotated, 1999 unmanaged (NOT touched; 1979 owners not looked up)". */
function countsText(c: HealthCounts): string {
  const parts = [
    c.rotated && `${c.rotated} rotated`,
    c.revoked && `${c.revoked} revoked`,
    c.contained && `${c.contained} contained (revoked, but something failed)`,
    c.failed && `${c.failed} FAILED (still active)`,
    c.unmanaged &&
      `${c.unmanaged} unmanaged (NOT touched${c.ownersNotLookedUp ? `; ${c.ownersNotLookedUp} owners not looked up` : ''})`,
    c.errors && `${c.errors} errors`,
  ].filter(Boolean);
  return `${c.exposed} exposed key${c.exposed === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

/**
 * The counts, then each managed key's summary, the errors and the unmanaged keys listed, as many as fit in
 * `HEALTH_LIMITS.summaryChars` (the rest are in `results`), then what was left out of the report altogether.
 */
function healthSummary(counts: HealthCounts, results: readonly HealthKeyResult[]): string {
  const line = (r: HealthKeyResult) =>
    'report' in r ? r.report.summary : `${r.accessKeyId}: ${r.outcome.toUpperCase()}: ${r.message}`;
  const order = (r: HealthKeyResult) => ('report' in r ? 0 : r.outcome === 'error' ? 1 : 2);
  const items = [...results].sort((a, b) => order(a) - order(b)).map(line);
  const tail = counts.omitted
    ? ` | ${counts.omitted} more keys not handled are not listed here: the log names them`
    : '';
  const room = HEALTH_LIMITS.summaryChars - tail.length - 60;
  let text = `${countsText(counts)}.`;
  let shown = 0;
  for (const item of items) {
    const next = `${text}${shown ? ' |' : ''} ${item}`;
    if (next.length > room) break;
    text = next;
    shown++;
  }
  if (!shown && items.length) {
    // One summary longer than the room: cut it rather than show none.
    text = `${text} ${items[0] ?? ''}`.slice(0, room) + ' …';
    shown = 1;
  }
  if (shown < items.length) text += ` | ${items.length - shown} more in the report's results`;
  return text + tail;
}
