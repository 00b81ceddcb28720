import { randomBytes, randomUUID } from 'node:crypto';
import type { RequestContext, ServiceModule } from './context';
import { AwsError } from './errors';
import type {
  AwsState,
  RotationEvent,
  RotationFunction,
  RotationRun,
  SecretRecord,
  SecretVersionRecord,
  Tag,
} from './state';

const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';
const PENDING = 'AWSPENDING';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ROTATION_STEPS: RotationEvent['Step'][] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
const NO_FUNCTION =
  "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured " +
  "and you didn't include such an ARN as a parameter in this call.";

const notFound = (message = "Secrets Manager can't find the specified secret.") =>
  new AwsError('ResourceNotFoundException', message);
const invalidParameter = (message: string) => new AwsError('InvalidParameterException', message);
const invalidRequest = (message: string) => new AwsError('InvalidRequestException', message);
const MARKED_FOR_DELETION =
  "You can't perform this operation on the secret because it was marked for deletion.";

// ---- input reading -------------------------------------------------------------------------------------------

type Input = Record<string, unknown>;

function optString(input: Input, key: string): string | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new AwsError('SerializationException', `${key} must be a string`);
  return v;
}

function optBoolean(input: Input, key: string): boolean | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new AwsError('SerializationException', `${key} must be a boolean`);
  return v;
}

function reqString(input: Input, key: string): string {
  const v = optString(input, key);
  if (v === undefined) {
    const member = key.charAt(0).toLowerCase() + key.slice(1);
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return v;
}

function readTags(v: unknown): Tag[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((t: Tag) => typeof t?.Key === 'string' && typeof t.Value === 'string'))
    throw invalidParameter('Tags must be a list of {Key, Value} strings.');
  return (v as Tag[]).map((t) => ({ Key: t.Key, Value: t.Value }));
}

/** ClientRequestToken (a version id): the SDK fills it in; absent means a fresh UUID. */
function clientToken(input: Input): string {
  const token = optString(input, 'ClientRequestToken') ?? randomUUID();
  if (token.length < 32 || token.length > 64)
    throw invalidParameter('ClientRequestToken must be 32-64 characters long.');
  return token;
}

type SecretValue = Pick<SecretVersionRecord, 'secretString' | 'secretBinary'>;

function readValue(input: Input): SecretValue | undefined {
  const secretString = optString(input, 'SecretString');
  const binary = optString(input, 'SecretBinary');
  if (secretString !== undefined && binary !== undefined)
    throw invalidParameter(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  if (secretString !== undefined) return { secretString };
  if (binary !== undefined) return { secretBinary: Buffer.from(binary, 'base64') };
  return undefined;
}

const hasValue = (v: SecretVersionRecord) => v.secretString !== undefined || v.secretBinary !== undefined;
const sameValue = (v: SecretVersionRecord, value: SecretValue) =>
  v.secretString === value.secretString &&
  (v.secretBinary === undefined || value.secretBinary === undefined
    ? v.secretBinary === value.secretBinary
    : v.secretBinary.equals(value.secretBinary));

// ---- lookup and staging labels -------------------------------------------------------------------------------

const regionOf = (arn: string) => arn.split(':')[3];
const date = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));

/** By name, full ARN or partial ARN (without the `-xxxxxx` suffix); secrets are visible only in their region. */
function findSecret(ctx: RequestContext, id: string): SecretRecord | undefined {
  for (const s of ctx.account.secrets.values()) {
    if (regionOf(s.arn) !== ctx.region) continue;
    if (id.startsWith('arn:') ? s.arn === id || s.arn.slice(0, -7) === id : s.name === id) return s;
  }
  return undefined;
}

/** Resolves `SecretId` and authorizes the current action on it (an unknown id is judged by the ARN it implies). */
function secretFor(ctx: RequestContext): SecretRecord {
  const id = reqString(ctx.input, 'SecretId');
  const secret = findSecret(ctx, id);
  const implied = id.startsWith('arn:')
    ? id
    : `arn:aws:secretsmanager:${ctx.region}:${ctx.account.accountId}:secret:${id}`;
  ctx.authorize(`secretsmanager:${ctx.action}`, secret?.arn ?? implied);
  if (!secret) throw notFound();
  return secret;
}

/** A secret scheduled for deletion can be described, restored or deleted for good, but not read or changed. */
function notScheduledForDeletion(secret: SecretRecord): SecretRecord {
  if (secret.deletedDate !== undefined) throw invalidRequest(MARKED_FOR_DELETION);
  return secret;
}

const holder = (s: SecretRecord, stage: string) =>
  [...s.versions.values()].find((v) => v.stages.includes(stage));

function detach(v: SecretVersionRecord | undefined, stage: string): void {
  if (v) v.stages = v.stages.filter((x) => x !== stage);
}

/** Moves `stage` onto `target`; moving AWSCURRENT puts AWSPREVIOUS on the former current, as AWS does. */
function attachStage(secret: SecretRecord, target: SecretVersionRecord, stage: string): void {
  const from = holder(secret, stage);
  if (from === target) return;
  detach(from, stage);
  target.stages.push(stage);
  if (stage === CURRENT && from) {
    detach(holder(secret, PREVIOUS), PREVIOUS);
    from.stages.push(PREVIOUS);
  }
}

function versionsToStages(s: SecretRecord): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of s.versions.values()) if (v.stages.length) out[v.versionId] = [...v.stages];
  return out;
}

function describe(s: SecretRecord) {
  const rotationConfigured = s.rotationLambdaArn !== undefined;
  return {
    ARN: s.arn,
    Name: s.name,
    Description: s.description,
    KmsKeyId: s.kmsKeyId,
    RotationEnabled: rotationConfigured ? s.rotationEnabled : undefined,
    RotationLambdaARN: s.rotationLambdaArn,
    RotationRules: s.rotationRules,
    LastRotatedDate: date(s.lastRotatedDate),
    LastChangedDate: date(s.lastChangedDate),
    LastAccessedDate: date(s.lastAccessedDate),
    NextRotationDate: date(s.nextRotationDate),
    DeletedDate: date(s.deletedDate),
    Tags: s.tags.length ? s.tags : undefined,
    CreatedDate: date(s.createdDate),
  };
}

// ---- paging --------------------------------------------------------------------------------------------------

function page<T>(items: T[], input: Input): { items: T[]; NextToken?: string } {
  const max = input['MaxResults'] ?? 100;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 100)
    throw invalidParameter('MaxResults must be between 1 and 100.');
  const token = optString(input, 'NextToken');
  const start = token === undefined ? 0 : Number(Buffer.from(token, 'base64url').toString('utf8'));
  if (!Number.isInteger(start) || start < 0 || start > items.length)
    throw new AwsError('InvalidNextTokenException', 'The NextToken value is invalid.');
  const end = start + max;
  return {
    items: items.slice(start, end),
    ...(end < items.length ? { NextToken: Buffer.from(String(end)).toString('base64url') } : {}),
  };
}

// ---- ListSecrets filters -------------------------------------------------------------------------------------

const FILTER_KEYS = new Set([
  'description',
  'name',
  'tag-key',
  'tag-value',
  'primary-region',
  'owning-service',
  'all',
]);
const words = (s: string) =>
  s
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);

/** name/tag-key/tag-value: case-sensitive prefix; description/all: every word a prefix of some word, any case. */
function filterMatches(secret: SecretRecord, key: string, values: string[]): boolean {
  const attrs =
    key === 'name'
      ? [secret.name]
      : key === 'description'
        ? [secret.description ?? '']
        : key === 'tag-key'
          ? secret.tags.map((t) => t.Key)
          : key === 'tag-value'
            ? secret.tags.map((t) => t.Value)
            : key === 'all'
              ? [secret.name, secret.description ?? '', ...secret.tags.flatMap((t) => [t.Key, t.Value])]
              : [];
  const byWords = key === 'description' || key === 'all';
  const match = (pattern: string, attr: string) =>
    byWords
      ? words(pattern).length > 0 && words(pattern).every((w) => words(attr).some((a) => a.startsWith(w)))
      : attr.startsWith(pattern);
  return values.some((v) =>
    v.startsWith('!') ? !attrs.some((a) => match(v.slice(1), a)) : attrs.some((a) => match(v, a)),
  );
}

function readFilters(v: unknown): { Key: string; Values: string[] }[] {
  if (v === undefined || v === null) return [];
  const filters = v as { Key?: unknown; Values?: unknown }[];
  if (!Array.isArray(filters)) throw invalidParameter('Filters must be a list.');
  return filters.map((f) => {
    if (typeof f.Key !== 'string' || !FILTER_KEYS.has(f.Key))
      throw invalidParameter(`Invalid filter key: ${String(f.Key)}`);
    if (!Array.isArray(f.Values) || !f.Values.every((x) => typeof x === 'string'))
      throw invalidParameter(`Filter ${f.Key} needs a list of string Values.`);
    return { Key: f.Key, Values: f.Values };
  });
}

// ---- rotation ------------------------------------------------------------------------------------------------

type RotationRules = NonNullable<SecretRecord['rotationRules']>;

const RATE_RE = /^rate\((\d+) (hours?|days?)\)$/;

function readRules(v: unknown): RotationRules | undefined {
  if (v === undefined || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const days = r['AutomaticallyAfterDays'] ?? undefined;
  const expr = r['ScheduleExpression'] ?? undefined;
  const duration = r['Duration'] ?? undefined;
  if (days !== undefined && expr !== undefined)
    throw invalidParameter('You can specify either AutomaticallyAfterDays or ScheduleExpression, not both.');
  if (days !== undefined && (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 1000))
    throw invalidParameter('RotationRules.AutomaticallyAfterDays must be within 1-1000.');
  if (expr !== undefined && (typeof expr !== 'string' || !(RATE_RE.test(expr) || /^cron\(.+\)$/.test(expr))))
    throw invalidParameter(`Invalid ScheduleExpression: ${JSON.stringify(expr)}`);
  const rate = typeof expr === 'string' ? RATE_RE.exec(expr) : null;
  if (rate && rate[2]!.startsWith('hour') && Number(rate[1]) < 4)
    throw invalidParameter('You can rotate a secret as often as every four hours.');
  if (duration !== undefined && (typeof duration !== 'string' || !/^\d+h$/.test(duration)))
    throw invalidParameter(`Invalid Duration: ${JSON.stringify(duration)}`);
  return {
    ...(typeof days === 'number' ? { AutomaticallyAfterDays: days } : {}),
    ...(typeof expr === 'string' ? { ScheduleExpression: expr } : {}),
    ...(typeof duration === 'string' ? { Duration: duration } : {}),
  };
}

/** The next rotation after `from`; cron schedules are not evaluated (undefined). */
function nextRotation(rules: RotationRules | undefined, from: number): number | undefined {
  if (rules?.AutomaticallyAfterDays) return from + rules.AutomaticallyAfterDays * DAY;
  const rate = rules?.ScheduleExpression && RATE_RE.exec(rules.ScheduleExpression);
  if (!rate) return undefined;
  return from + Number(rate[1]) * (rate[2]!.startsWith('hour') ? HOUR : DAY);
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Invokes the rotation function once per step, stopping at the first failure (AWS would retry; we record). */
async function runRotation(
  state: AwsState,
  secret: SecretRecord,
  run: RotationRun,
  fn: RotationFunction,
  steps: RotationEvent['Step'][],
): Promise<void> {
  const rotationToken = randomBytes(24).toString('base64url');
  for (const step of steps) {
    try {
      await fn({
        Step: step,
        SecretId: secret.arn,
        ClientRequestToken: run.token,
        RotationToken: rotationToken,
      });
      run.steps.push({ step, ok: true });
    } catch (err) {
      run.steps.push({ step, ok: false, error: errorText(err) });
      run.status = 'failed';
      break;
    }
  }
  run.finishedAt = state.now();
  if (steps.length === 1) {
    // RotateImmediately=false: the test version is removed again, whatever the outcome.
    const test = secret.versions.get(run.token);
    if (test?.stages.every((s) => s === PENDING)) secret.versions.delete(run.token);
    else detach(test, PENDING);
  }
  if (run.status === 'failed') return;
  run.status = 'succeeded';
  if (steps.length > 1) {
    secret.lastRotatedDate = run.finishedAt;
    secret.nextRotationDate = nextRotation(secret.rotationRules, run.finishedAt);
  }
}

/** Resolves once no rotation run is `running`; rejects after `timeoutMs`. */
export async function waitForRotations(state: AwsState, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (state.rotations.some((r) => r.status === 'running')) {
    if (Date.now() > deadline) throw new Error(`rotation still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// ---- creation (API and admin seed) ---------------------------------------------------------------------------

const NAME_RE = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const suffix = () => [...randomBytes(6)].map((b) => ALNUM[b % ALNUM.length]).join('');

export const secretArn = (region: string, accountId: string, name: string) =>
  `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-${suffix()}`;

export interface NewSecret {
  accountId: string;
  region: string;
  name: string;
  /** Defaults to a fresh ARN (name plus a random 6-character suffix). */
  arn?: string;
  description?: string;
  kmsKeyId?: string;
  tags?: Tag[];
  value?: SecretValue;
  versionId?: string;
}

/** Creates a secret (with an AWSCURRENT version when a value is given), replacing nothing: callers check names. */
export function createSecretRecord(state: AwsState, opts: NewSecret): SecretRecord {
  if (!NAME_RE.test(opts.name))
    throw invalidParameter(
      'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
    );
  const now = state.now();
  const secret: SecretRecord = {
    arn: opts.arn ?? secretArn(opts.region, opts.accountId, opts.name),
    name: opts.name,
    accountId: opts.accountId,
    description: opts.description,
    kmsKeyId: opts.kmsKeyId,
    createdDate: now,
    lastChangedDate: now,
    rotationEnabled: false,
    tags: opts.tags ?? [],
    versions: new Map(),
  };
  if (opts.value) {
    const versionId = opts.versionId ?? randomUUID();
    secret.versions.set(versionId, { versionId, ...opts.value, createdDate: now, stages: [CURRENT] });
  }
  state.account(opts.accountId).secrets.set(opts.name, secret);
  return secret;
}

// ---- the service ---------------------------------------------------------------------------------------------

/** Secrets Manager, JSON 1.1. */
export const secretsmanager: ServiceModule = {
  signingName: 'secretsmanager',
  protocol: 'json',
  targetPrefix: 'secretsmanager',
  actions: {
    CreateSecret: (ctx) => {
      const name = reqString(ctx.input, 'Name');
      const value = readValue(ctx.input);
      const tags = readTags(ctx.input['Tags']);
      const existing = ctx.account.secrets.get(name);
      if (existing) {
        ctx.authorize('secretsmanager:CreateSecret', existing.arn);
        if (existing.deletedDate !== undefined)
          throw invalidRequest(
            "You can't create this secret because a secret with this name is already scheduled for deletion.",
          );
        // An SDK retry of the same request (same token, same value) is answered as the original was.
        const version = existing.versions.get(optString(ctx.input, 'ClientRequestToken') ?? '');
        if (version && value && sameValue(version, value))
          return { ARN: existing.arn, Name: existing.name, VersionId: version.versionId };
        throw new AwsError(
          'ResourceExistsException',
          `The operation failed because the secret ${name} already exists.`,
        );
      }
      const token = clientToken(ctx.input);
      const arn = secretArn(ctx.region, ctx.account.accountId, name);
      ctx.authorize('secretsmanager:CreateSecret', arn);
      if (tags.length) ctx.authorize('secretsmanager:TagResource', arn);
      const secret = createSecretRecord(ctx.state, {
        accountId: ctx.account.accountId,
        region: ctx.region,
        name,
        arn,
        description: optString(ctx.input, 'Description'),
        kmsKeyId: optString(ctx.input, 'KmsKeyId'),
        tags,
        ...(value ? { value, versionId: token } : {}),
      });
      return { ARN: secret.arn, Name: secret.name, VersionId: value ? token : undefined };
    },

    DescribeSecret: (ctx) => {
      const secret = secretFor(ctx);
      return { ...describe(secret), VersionIdsToStages: versionsToStages(secret) };
    },

    GetSecretValue: (ctx) => {
      const secret = notScheduledForDeletion(secretFor(ctx));
      const versionId = optString(ctx.input, 'VersionId');
      const stage = optString(ctx.input, 'VersionStage');
      let version: SecretVersionRecord | undefined;
      if (versionId !== undefined) {
        version = secret.versions.get(versionId);
        if (!version || !hasValue(version))
          throw notFound(`Secrets Manager can't find the specified secret value for VersionId: ${versionId}`);
        if (stage !== undefined && !version.stages.includes(stage))
          throw invalidRequest(
            'You provided a VersionStage that is not associated to the provided VersionId.',
          );
      } else {
        const label = stage ?? CURRENT;
        version = holder(secret, label);
        if (!version || !hasValue(version))
          throw notFound(`Secrets Manager can't find the specified secret value for staging label: ${label}`);
      }
      const today = Math.floor(ctx.now / DAY) * DAY;
      secret.lastAccessedDate = today;
      version.lastAccessedDate = today;
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.versionId,
        SecretString: version.secretString,
        SecretBinary: version.secretBinary?.toString('base64'),
        VersionStages: [...version.stages],
        CreatedDate: date(version.createdDate),
      };
    },

    PutSecretValue: (ctx) => {
      const secret = notScheduledForDeletion(secretFor(ctx));
      const value = readValue(ctx.input);
      if (!value) throw invalidParameter('You must provide either SecretString or SecretBinary.');
      const token = clientToken(ctx.input);
      const stagesInput = ctx.input['VersionStages'] ?? [CURRENT];
      if (!Array.isArray(stagesInput) || !stagesInput.every((s) => typeof s === 'string'))
        throw invalidParameter('VersionStages must be a list of strings.');
      const stages = [...stagesInput];
      const answer = (v: SecretVersionRecord) => ({
        ARN: secret.arn,
        Name: secret.name,
        VersionId: v.versionId,
        VersionStages: [...v.stages],
      });
      let version = secret.versions.get(token);
      if (version && hasValue(version)) {
        if (sameValue(version, value)) return answer(version);
        throw new AwsError(
          'ResourceExistsException',
          `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${secret.arn}.`,
        );
      }
      // A version without a value is the AWSPENDING placeholder RotateSecret made: this call fills it in.
      if (!version) {
        version = { versionId: token, createdDate: ctx.now, stages: [] };
        secret.versions.set(token, version);
      }
      Object.assign(version, value);
      if (!holder(secret, CURRENT) && !stages.includes(CURRENT)) stages.push(CURRENT);
      for (const stage of stages) attachStage(secret, version, stage);
      secret.lastChangedDate = ctx.now;
      return answer(version);
    },

    UpdateSecretVersionStage: (ctx) => {
      const secret = notScheduledForDeletion(secretFor(ctx));
      const stage = reqString(ctx.input, 'VersionStage');
      const moveTo = optString(ctx.input, 'MoveToVersionId');
      const removeFrom = optString(ctx.input, 'RemoveFromVersionId');
      const target = moveTo === undefined ? undefined : secret.versions.get(moveTo);
      if (moveTo !== undefined && !target) throw invalidParameter(`Not a valid version: ${moveTo}`);
      if (removeFrom !== undefined && !secret.versions.has(removeFrom))
        throw invalidParameter(`Not a valid version: ${removeFrom}`);
      const from = holder(secret, stage);
      if (removeFrom !== undefined && from?.versionId !== removeFrom)
        throw invalidParameter(`Version stage ${stage} not found in version ${removeFrom}`);
      if (from && from !== target && removeFrom === undefined)
        throw invalidParameter(
          `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ` +
            `${from.versionId}, so you must explicitly reference that version in RemoveFromVersionId.`,
        );
      if (target) attachStage(secret, target, stage);
      else if (stage === CURRENT)
        throw invalidParameter('You can only move AWSCURRENT to another version, not remove it.');
      else detach(from, stage);
      secret.lastChangedDate = ctx.now;
      return { ARN: secret.arn, Name: secret.name };
    },

    ListSecrets: (ctx) => {
      const filters = readFilters(ctx.input['Filters']);
      const order = optString(ctx.input, 'SortOrder') ?? 'asc';
      const withDeleted = optBoolean(ctx.input, 'IncludePlannedDeletion') === true;
      const secrets = [...ctx.account.secrets.values()]
        .filter(
          (s) =>
            regionOf(s.arn) === ctx.region &&
            (withDeleted || s.deletedDate === undefined) &&
            filters.every((f) => filterMatches(s, f.Key, f.Values)),
        )
        .sort((a, b) => (order === 'desc' ? b.createdDate - a.createdDate : a.createdDate - b.createdDate));
      const { items, NextToken } = page(secrets, ctx.input);
      return {
        SecretList: items.map((s) => ({ ...describe(s), SecretVersionsToStages: versionsToStages(s) })),
        NextToken,
      };
    },

    ListSecretVersionIds: (ctx) => {
      const secret = secretFor(ctx);
      const all = ctx.input['IncludeDeprecated'] === true;
      const versions = [...secret.versions.values()]
        .filter((v) => all || v.stages.length > 0)
        .map((v) => ({
          VersionId: v.versionId,
          VersionStages: [...v.stages],
          CreatedDate: date(v.createdDate),
          LastAccessedDate: date(v.lastAccessedDate),
        }));
      const { items, NextToken } = page(versions, ctx.input);
      return { ARN: secret.arn, Name: secret.name, Versions: items, NextToken };
    },

    TagResource: (ctx) => {
      const secret = secretFor(ctx);
      const tags = readTags(ctx.input['Tags']);
      secret.tags = [...secret.tags.filter((t) => !tags.some((n) => n.Key === t.Key)), ...tags];
      secret.lastChangedDate = ctx.now;
      return {};
    },

    UntagResource: (ctx) => {
      const secret = secretFor(ctx);
      const keys = ctx.input['TagKeys'];
      if (!Array.isArray(keys)) throw invalidParameter('TagKeys must be a list of strings.');
      secret.tags = secret.tags.filter((t) => !keys.includes(t.Key));
      secret.lastChangedDate = ctx.now;
      return {};
    },

    RotateSecret: (ctx) => {
      const secret = notScheduledForDeletion(secretFor(ctx));
      const lambdaArn = optString(ctx.input, 'RotationLambdaARN') ?? secret.rotationLambdaArn;
      if (!lambdaArn) throw invalidRequest(NO_FUNCTION);
      ctx.authorize('lambda:InvokeFunction', lambdaArn);
      const rules = readRules(ctx.input['RotationRules']) ?? secret.rotationRules;
      const immediately = ctx.input['RotateImmediately'] !== false;
      const token = clientToken(ctx.input);
      const pending = holder(secret, PENDING);
      if (pending && !pending.stages.includes(CURRENT))
        throw invalidRequest("A previous rotation isn't complete. That rotation will be reattempted.");
      if (secret.versions.has(token))
        throw invalidRequest(
          `ClientRequestToken ${token} is already the VersionId of a version of this secret.`,
        );
      const fn = ctx.state.rotationFunctions.get(lambdaArn);
      if (!fn)
        throw new AwsError(
          'AccessDeniedException',
          'Secrets Manager cannot invoke the specified Lambda function. ' +
            'Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.',
        );
      secret.rotationEnabled = true;
      secret.rotationLambdaArn = lambdaArn;
      if (rules) secret.rotationRules = rules;
      secret.lastChangedDate = ctx.now;
      detach(pending, PENDING);
      // Rotation: the new version starts empty for createSecret to fill. Test only: it holds the current value.
      const current = immediately ? undefined : holder(secret, CURRENT);
      secret.versions.set(token, {
        versionId: token,
        secretString: current?.secretString,
        secretBinary: current?.secretBinary,
        createdDate: ctx.now,
        stages: [PENDING],
      });
      if (!immediately) secret.nextRotationDate = nextRotation(secret.rotationRules, ctx.now);
      const run: RotationRun = {
        secretId: secret.arn,
        token,
        lambdaArn,
        status: 'running',
        steps: [],
        startedAt: ctx.now,
      };
      ctx.state.rotations.push(run);
      ctx.defer(() => runRotation(ctx.state, secret, run, fn, immediately ? ROTATION_STEPS : ['testSecret']));
      return { ARN: secret.arn, Name: secret.name, VersionId: token };
    },

    DeleteSecret: (ctx) => {
      const id = reqString(ctx.input, 'SecretId');
      const force = optBoolean(ctx.input, 'ForceDeleteWithoutRecovery') === true;
      const window = ctx.input['RecoveryWindowInDays'];
      if (window !== undefined && window !== null) {
        if (typeof window !== 'number' || !Number.isInteger(window))
          throw new AwsError('SerializationException', 'RecoveryWindowInDays must be an integer');
        if (force)
          throw invalidParameter(
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
          );
        if (window < 7 || window > 30)
          throw invalidParameter('The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
      }
      const secret = findSecret(ctx, id);
      const implied = id.startsWith('arn:')
        ? id
        : `arn:aws:secretsmanager:${ctx.region}:${ctx.account.accountId}:secret:${id}`;
      ctx.authorize('secretsmanager:DeleteSecret', secret?.arn ?? implied);
      if (!secret) {
        // AWS: "If you forcibly delete an already deleted or nonexistent secret, the operation does not return
        // ResourceNotFoundException."
        if (force)
          return { ARN: implied, Name: id.startsWith('arn:') ? undefined : id, DeletionDate: date(ctx.now) };
        throw notFound();
      }
      if (force) {
        ctx.account.secrets.delete(secret.name);
        return { ARN: secret.arn, Name: secret.name, DeletionDate: date(ctx.now) };
      }
      notScheduledForDeletion(secret);
      const days = typeof window === 'number' ? window : 30;
      // DeletedDate is when the deletion was asked for; DeletionDate, answered here, is when it happens.
      secret.deletedDate = ctx.now;
      secret.lastChangedDate = ctx.now;
      return { ARN: secret.arn, Name: secret.name, DeletionDate: date(ctx.now + days * DAY) };
    },

    RestoreSecret: (ctx) => {
      const secret = secretFor(ctx);
      if (secret.deletedDate !== undefined) {
        delete secret.deletedDate;
        secret.lastChangedDate = ctx.now;
      }
      return { ARN: secret.arn, Name: secret.name };
    },

    CancelRotateSecret: (ctx) => {
      const secret = secretFor(ctx);
      const pending = holder(secret, PENDING);
      const abandoned = pending && !pending.stages.includes(CURRENT) ? pending : undefined;
      detach(abandoned, PENDING);
      secret.rotationEnabled = false;
      delete secret.nextRotationDate;
      secret.lastChangedDate = ctx.now;
      return { ARN: secret.arn, Name: secret.name, VersionId: abandoned?.versionId };
    },
  },
};
