import { parseArgs, type ParseArgsConfig } from 'node:util';
import { STACK_PARAMS, isStackParam } from '../config/stack-params';
import { UsageError } from './exit';
import { didYouMean } from './suggest';
import type { CheckArgs } from './check';
import type { KeylessArgs } from './keyless';
import type { ReportArgs } from './report';
import type { SelfRotateArgs } from './self-rotate';

export type { CheckArgs, KeylessArgs, ReportArgs, SelfRotateArgs };

export const COMMANDS = [
  'audit',
  'check',
  'doctor',
  'keyless',
  'plan',
  'report',
  'rotate',
  'self-rotate',
  'validate-config',
] as const;
export type CommandName = (typeof COMMANDS)[number];

type OptionSpec = NonNullable<ParseArgsConfig['options']>[string];

/** Options valid with every command, before or after it. */
export const GLOBAL_OPTIONS = {
  config: { type: 'string', short: 'c' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  sandbox: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const satisfies Record<string, OptionSpec>;

export const COMMAND_OPTIONS = {
  audit: {
    json: { type: 'boolean' },
    format: { type: 'string' },
    'fail-on-stale': { type: 'boolean' },
    'include-unmanaged': { type: 'boolean' },
    'credential-report': { type: 'boolean' },
  },
  plan: {
    json: { type: 'boolean' },
    'credential-report': { type: 'boolean' },
    'rotation-lambda-arn': { type: 'string' },
  },
  rotate: {
    json: { type: 'boolean' },
    emergency: { type: 'boolean' },
    'delete-old': { type: 'boolean' },
    reason: { type: 'string' },
    resume: { type: 'boolean' },
    abandon: { type: 'boolean' },
    force: { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
  },
  'self-rotate': {
    json: { type: 'boolean' },
    force: { type: 'boolean' },
    'take-over': { type: 'boolean' },
    'print-policy': { type: 'boolean' },
    'user-path': { type: 'string' },
    'account-id': { type: 'string' },
  },
  'validate-config': {
    json: { type: 'boolean' },
    stage: { type: 'string' },
    param: { type: 'string', multiple: true },
    'check-iam': { type: 'boolean' },
  },
  doctor: {
    json: { type: 'boolean' },
    key: { type: 'string' },
  },
  check: {
    json: { type: 'boolean' },
    key: { type: 'string' },
    'fail-on': { type: 'string' },
    'emit-policy': { type: 'string' },
  },
  keyless: {
    json: { type: 'boolean' },
    out: { type: 'string' },
    job: { type: 'string', multiple: true },
    folder: { type: 'string', multiple: true },
    audience: { type: 'string' },
    canary: { type: 'string', multiple: true },
    'retire-key': { type: 'boolean' },
    credential: { type: 'string' },
    'proof-timeout': { type: 'string' },
  },
  report: {
    html: { type: 'string' },
    json: { type: 'boolean' },
    'no-checks': { type: 'boolean' },
    'credential-report': { type: 'boolean' },
  },
} as const satisfies Record<CommandName, Record<string, OptionSpec>>;

const ALL_OPTIONS = {
  ...GLOBAL_OPTIONS,
  ...COMMAND_OPTIONS.audit,
  ...COMMAND_OPTIONS.plan,
  ...COMMAND_OPTIONS.rotate,
  ...COMMAND_OPTIONS['self-rotate'],
  ...COMMAND_OPTIONS['validate-config'],
  ...COMMAND_OPTIONS.check,
  ...COMMAND_OPTIONS.doctor,
  ...COMMAND_OPTIONS.keyless,
  ...COMMAND_OPTIONS.report,
} as const;

export interface GlobalOptions {
  config?: string;
  region?: string;
  endpoint?: string;
  /** A file holding `npm run sandbox`'s JSON line, or `-` for stdin. */
  sandbox?: string;
  verbose: boolean;
}

/** How `audit` prints its report: the aligned table, one JSON document, or one CSV row per key. */
export const AUDIT_FORMATS = ['table', 'json', 'csv'] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];

export interface AuditArgs {
  command: 'audit';
  format: AuditFormat;
  credentialReport: boolean;
  /** `--fail-on-stale`: exit 1 when a managed key (with `includeUnmanaged`, any key) is past its max age. */
  failOnStale: boolean;
  includeUnmanaged: boolean;
}
export interface PlanArgs {
  command: 'plan';
  json: boolean;
  credentialReport: boolean;
  rotationLambdaArn?: string;
}
export interface RotateArgs {
  command: 'rotate';
  /** An IAM user name or a managed key's name; with `emergency`, also a leaked access key id. */
  target: string;
  json: boolean;
  emergency: boolean;
  /** `--resume` or `--abandon`: the way out of a rotation in flight, instead of a new rotation. */
  recovery?: 'resume' | 'abandon';
  /** With `recovery`: the rotation's own invocation is gone although its lease has not run out yet. */
  force: boolean;
  deleteOld: boolean;
  /** `--yes`: making room may delete the last rotation's rollback key (inside its grace period). */
  yes: boolean;
  reason?: string;
}
export interface ValidateArgs {
  command: 'validate-config';
  json: boolean;
  file?: string;
  /** A stage of serverless.yml whose parameters the configuration must fit. */
  stage?: string;
  /** `name=value` deploy parameters, over the stage's. */
  params: string[];
  /** Read each managed user's IAM path and compare it with the stack's userPath. */
  checkIam: boolean;
}
/** `doctor`: reachability and permissions of each Jenkins target, from here. */
export interface DoctorArgs {
  command: 'doctor';
  json: boolean;
  /** Only this managed key (its name or IAM user). */
  key?: string;
}
export type CommandArgs =
  | AuditArgs
  | PlanArgs
  | RotateArgs
  | SelfRotateArgs
  | ValidateArgs
  | DoctorArgs
  | CheckArgs
  | KeylessArgs
  | ReportArgs;

export type ParsedArgs =
  | { kind: 'help'; command?: CommandName; global: GlobalOptions }
  | { kind: 'version'; global: GlobalOptions }
  | { kind: 'run'; global: GlobalOptions; args: CommandArgs };

const isCommand = (s: string): s is CommandName => (COMMANDS as readonly string[]).includes(s);

/** The options `command` takes (its own and the global ones), as typed: `--name`. */
const optionsOf = (command: CommandName | undefined): string[] =>
  Object.keys(command ? { ...COMMAND_OPTIONS[command], ...GLOBAL_OPTIONS } : ALL_OPTIONS).map(
    (o) => `--${o}`,
  );

/** The command named on a command line, if any (for messages: the first word that is one). */
const commandIn = (argv: readonly string[]): CommandName | undefined => argv.find(isCommand);

/** Node's parseArgs messages, made into ours: `Unknown option '--x'` and friends. */
function usageFrom(err: unknown, command: CommandName | undefined): UsageError {
  const e = err as { code?: string; message?: string };
  const message = (e.message ?? String(err)).split('\n')[0] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const opt = /'([^']+)'/.exec(message)?.[1] ?? message;
      const name = opt.replace(/=.*$/, '');
      return new UsageError(
        `unknown option ${name}${command ? ` for ${command}` : ''}${didYouMean(name, optionsOf(command))}`,
      );
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const opt = /--[\w-]+/.exec(message)?.[0] ?? 'an option';
      return new UsageError(
        /argument missing/.test(message)
          ? `option ${opt} needs a value`
          : /does not take an argument/.test(message)
            ? `option ${opt} takes no value`
            : `option ${opt}: ${message}`,
      );
    }
    default:
      return new UsageError(message);
  }
}

const parse = (args: string[]) =>
  parseArgs({ args, options: ALL_OPTIONS, allowPositionals: true, strict: true, tokens: true });

/**
 * Parses the command line: `key-rotator [global options] <command> [options] [arguments]`. Throws
 * {@link UsageError}, whose one line ends with where to read more (`see key-rotator <command> --help`).
 */
export function parseCommandLine(argv: readonly string[]): ParsedArgs {
  try {
    return parseLine(argv);
  } catch (err) {
    if (!(err instanceof UsageError) || /--help\b/.test(err.message)) throw err;
    const command = commandIn(argv);
    throw new UsageError(`${err.message} (see key-rotator${command ? ` ${command}` : ''} --help)`);
  }
}

function parseLine(argv: readonly string[]): ParsedArgs {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse([...argv]);
  } catch (err) {
    throw usageFrom(err, commandIn(argv));
  }
  const { values, positionals, tokens } = parsed;
  const global: GlobalOptions = {
    verbose: values.verbose === true,
    ...(values.config !== undefined ? { config: nonEmpty('--config', values.config) } : {}),
    ...(values.region !== undefined ? { region: nonEmpty('--region', values.region) } : {}),
    ...(values.endpoint !== undefined ? { endpoint: endpointUrl(values.endpoint) } : {}),
    ...(values.sandbox !== undefined ? { sandbox: nonEmpty('--sandbox', values.sandbox) } : {}),
  };
  let [first, ...rest] = positionals;
  // `key-rotator help [command]` is `--help`.
  let help = values.help === true;
  if (first === 'help') {
    help = true;
    [first, ...rest] = rest;
  }
  if (first !== undefined && !isCommand(first))
    throw new UsageError(
      `unknown command "${first}"${didYouMean(first, COMMANDS)} (commands: ${COMMANDS.join(', ')}; see key-rotator --help)`,
    );
  if (help) return { kind: 'help', global, ...(first ? { command: first } : {}) };
  if (values.version === true) return { kind: 'version', global };
  if (first === undefined) throw new UsageError(`no command given (commands: ${COMMANDS.join(', ')})`);
  const command = first;

  const allowed = new Set<string>([...Object.keys(GLOBAL_OPTIONS), ...Object.keys(COMMAND_OPTIONS[command])]);
  for (const t of tokens)
    if (t.kind === 'option' && !allowed.has(t.name))
      throw new UsageError(
        `option --${t.name} is not an option of ${command}${didYouMean(`--${t.name}`, optionsOf(command))} (see key-rotator ${command} --help)`,
      );
  const json = values.json === true;
  const extra = (max: number) => {
    if (rest.length > max)
      throw new UsageError(
        `unexpected argument "${rest[max] ?? ''}" for ${command} (see key-rotator ${command} --help)`,
      );
  };
  switch (command) {
    case 'audit': {
      extra(0);
      const failOnStale = values['fail-on-stale'] === true;
      const includeUnmanaged = values['include-unmanaged'] === true;
      if (includeUnmanaged && !failOnStale)
        throw new UsageError(
          'option --include-unmanaged goes with --fail-on-stale (unmanaged keys are always listed; it makes them fail the gate too)',
        );
      return {
        kind: 'run',
        global,
        args: {
          command,
          format: auditFormat(values.format, json),
          credentialReport: values['credential-report'] === true,
          failOnStale,
          includeUnmanaged,
        },
      };
    }
    case 'plan': {
      extra(0);
      const arn = values['rotation-lambda-arn'];
      if (arn !== undefined && !/^arn:aws[\w-]*:lambda:/.test(arn))
        throw new UsageError(`option --rotation-lambda-arn must be a Lambda function ARN (arn:aws:lambda:…)`);
      return {
        kind: 'run',
        global,
        args: {
          command,
          json,
          credentialReport: values['credential-report'] === true,
          ...(arn !== undefined ? { rotationLambdaArn: arn } : {}),
        },
      };
    }
    case 'rotate': {
      const [target] = rest;
      if (target === undefined || target.trim() === '')
        throw new UsageError(
          'rotate needs the IAM user to rotate: key-rotator rotate <user> (see key-rotator rotate --help)',
        );
      extra(1);
      const emergency = values.emergency === true;
      if (values.reason !== undefined && !emergency)
        throw new UsageError(
          'option --reason goes with --emergency (it is recorded in the emergency report)',
        );
      if (!emergency && /^(AKIA|ASIA)[A-Z0-9]{12,}$/.test(target))
        throw new UsageError(
          `"${target}" is an access key id: a leaked key is handled with --emergency (key-rotator rotate ${target} --emergency --reason "…"); otherwise name the IAM user`,
        );
      const recovery = recoveryOf(values, emergency);
      return {
        kind: 'run',
        global,
        args: {
          command,
          target,
          json,
          emergency,
          ...(recovery ? { recovery } : {}),
          force: values.force === true,
          deleteOld: values['delete-old'] === true,
          yes: values.yes === true,
          ...(values.reason !== undefined ? { reason: nonEmpty('--reason', values.reason) } : {}),
        },
      };
    }
    case 'self-rotate': {
      const [target] = rest;
      if (target === undefined || target.trim() === '')
        throw new UsageError(
          'self-rotate needs the managed key: key-rotator self-rotate <key> (see key-rotator self-rotate --help)',
        );
      extra(1);
      const printPolicy = values['print-policy'] === true;
      for (const o of ['user-path', 'account-id'] as const)
        if (values[o] !== undefined && !printPolicy)
          throw new UsageError(`option --${o} goes with --print-policy`);
      const userPath = values['user-path'];
      if (userPath !== undefined && !/^\/([\w+=,.@-]+\/)*$/.test(userPath))
        throw new UsageError(`option --user-path must be an IAM path such as /jenkins/ (got "${userPath}")`);
      const accountId = values['account-id'];
      if (accountId !== undefined && !/^\d{12}$/.test(accountId))
        throw new UsageError(`option --account-id must be a 12-digit AWS account ID (got "${accountId}")`);
      return {
        kind: 'run',
        global,
        args: {
          command,
          target,
          json,
          force: values.force === true,
          takeOver: values['take-over'] === true,
          printPolicy,
          ...(userPath !== undefined ? { userPath } : {}),
          ...(accountId !== undefined ? { accountId } : {}),
        },
      };
    }
    case 'keyless': {
      const [action, target] = rest;
      if (action !== 'plan' && action !== 'apply' && action !== 'rollback')
        throw new UsageError(
          `keyless needs an action, plan, apply or rollback (got ${action === undefined ? 'none' : `"${action}"`}): key-rotator keyless plan <key>`,
        );
      if (target === undefined)
        throw new UsageError(`keyless ${action} needs the managed key: key-rotator keyless ${action} <key>`);
      extra(2);
      const only = (opts: string[], forAction: string) => {
        for (const o of opts)
          if (values[o as keyof typeof values] !== undefined && action !== forAction)
            throw new UsageError(`option --${o} goes with keyless ${forAction}`);
      };
      only(['out'], 'plan');
      only(['canary', 'retire-key', 'credential', 'proof-timeout'], 'apply');
      if (action === 'rollback') only(['job', 'folder', 'audience'], 'plan or apply');
      const credential = values.credential;
      if (credential !== undefined && credential !== 'keep' && credential !== 'delete')
        throw new UsageError(`option --credential must be keep or delete (got "${credential}")`);
      if (credential !== undefined && values['retire-key'] !== true)
        throw new UsageError('option --credential goes with --retire-key');
      const proof = values['proof-timeout'];
      if (proof !== undefined && !/^\d+$/.test(proof))
        throw new UsageError(`option --proof-timeout is a number of seconds (got "${proof}")`);
      const paths = (name: string, list: string[] | undefined) =>
        (list ?? []).map((p) => {
          const v = nonEmpty(`--${name}`, p).replace(/^\/+|\/+$/g, '');
          if (v.split('/').some((seg) => seg === '' || seg === '.' || seg === '..' || seg.includes('*')))
            throw new UsageError(
              `option --${name} must be a Jenkins item's full name such as team-a/deploy (got "${p}")`,
            );
          return v;
        });
      return {
        kind: 'run',
        global,
        args: {
          command,
          action,
          target,
          json,
          ...(values.out !== undefined ? { out: nonEmpty('--out', values.out) } : {}),
          jobs: paths('job', values.job),
          folders: paths('folder', values.folder),
          ...(values.audience !== undefined ? { audience: nonEmpty('--audience', values.audience) } : {}),
          canaries: paths('canary', values.canary),
          retireKey: values['retire-key'] === true,
          ...(credential !== undefined ? { credential } : {}),
          ...(proof !== undefined ? { proofTimeoutSeconds: Number(proof) } : {}),
        },
      };
    }
    case 'check': {
      extra(0);
      const failOn = values['fail-on'];
      if (failOn !== undefined && !['high', 'medium', 'low'].includes(failOn))
        throw new UsageError(`option --fail-on must be high, medium or low (got "${failOn}")`);
      return {
        kind: 'run',
        global,
        args: {
          command,
          json,
          ...(failOn !== undefined ? { failOn: failOn as 'high' | 'medium' | 'low' } : {}),
          ...(values['emit-policy'] !== undefined
            ? { emitPolicy: nonEmpty('--emit-policy', values['emit-policy']) }
            : {}),
          ...(values.key !== undefined ? { key: nonEmpty('--key', values.key) } : {}),
        },
      };
    }
    case 'report': {
      extra(0);
      const html = values.html !== undefined ? nonEmpty('--html', values.html) : undefined;
      if (html === undefined && !json)
        throw new UsageError(
          'report needs --html FILE (the HTML page) or --json (its data on stdout), or both (see key-rotator report --help)',
        );
      return {
        kind: 'run',
        global,
        args: {
          command,
          json,
          ...(html !== undefined ? { html } : {}),
          checks: values['no-checks'] !== true,
          credentialReport: values['credential-report'] === true,
        },
      };
    }
    case 'doctor':
      extra(0);
      return {
        kind: 'run',
        global,
        args: {
          command,
          json,
          ...(values.key !== undefined ? { key: nonEmpty('--key', values.key) } : {}),
        },
      };
    case 'validate-config': {
      extra(1);
      const [file] = rest;
      const params = (values.param ?? []).map(stackParam);
      const checkIam = values['check-iam'] === true;
      if (checkIam && values.stage === undefined && !params.some((p) => p.startsWith('userPath=')))
        throw new UsageError(
          "option --check-iam compares each managed user's IAM path with the stack's userPath: give --stage NAME or --param userPath=/path/",
        );
      return {
        kind: 'run',
        global,
        args: {
          command,
          json,
          ...(file !== undefined ? { file } : {}),
          ...(values.stage !== undefined ? { stage: stageName(values.stage) } : {}),
          params,
          checkIam,
        },
      };
    }
  }
}

/** `--param name=value`: a parameter serverless.yml declares, and a value (as the Serverless Framework wants). */
function stackParam(value: string): string {
  const m = /^([^=]+)=(.+)$/s.exec(value);
  if (!m?.[1]) throw new UsageError(`option --param needs name=value (got "${value}")`);
  if (!isStackParam(m[1]))
    throw new UsageError(
      `option --param: unknown parameter "${m[1]}" (parameters: ${STACK_PARAMS.join(', ')})`,
    );
  return value;
}

/** `--format table|json|csv`; `--json` is `--format json`. */
function auditFormat(format: string | undefined, json: boolean): AuditFormat {
  if (format === undefined) return json ? 'json' : 'table';
  if (!(AUDIT_FORMATS as readonly string[]).includes(format))
    throw new UsageError(`option --format must be ${AUDIT_FORMATS.join(', ')} (got "${format}")`);
  if (json && format !== 'json')
    throw new UsageError(
      `options --json and --format ${format} contradict each other (--json is --format json)`,
    );
  return format as AuditFormat;
}

/** A Serverless Framework stage name. */
function stageName(value: string): string {
  if (!/^[a-zA-Z0-9-]+$/.test(value))
    throw new UsageError(`option --stage must be a stage name of letters, digits and "-" (got "${value}")`);
  return value;
}

/** `--resume` or `--abandon`, checked against the options they exclude or need. */
function recoveryOf(
  values: { resume?: boolean; abandon?: boolean; force?: boolean; yes?: boolean; 'delete-old'?: boolean },
  emergency: boolean,
): RotateArgs['recovery'] {
  const resume = values.resume === true;
  const abandon = values.abandon === true;
  if (resume && abandon)
    throw new UsageError(
      'options --resume and --abandon exclude each other: continue the rotation, or undo it',
    );
  const recovery = resume ? 'resume' : abandon ? 'abandon' : undefined;
  if (recovery && emergency)
    throw new UsageError(
      `option --${recovery} does not go with --emergency: an emergency takes a rotation in flight over by itself`,
    );
  if (values.force === true && !recovery)
    throw new UsageError(
      'option --force goes with --resume or --abandon (the invocation running the rotation is gone)',
    );
  if (abandon && (values.yes === true || values['delete-old'] === true))
    throw new UsageError(
      `option --${values.yes === true ? 'yes' : 'delete-old'} goes with a rotation; --abandon deletes only the pending key of the rotation it undoes`,
    );
  return recovery;
}

function nonEmpty(option: string, value: string): string {
  if (value.trim() === '') throw new UsageError(`option ${option} needs a value`);
  return value;
}

function endpointUrl(value: string): string {
  const v = nonEmpty('--endpoint', value);
  if (!URL.canParse(v) || !/^https?:$/.test(new URL(v).protocol))
    throw new UsageError(`option --endpoint must be an http(s) URL, e.g. http://127.0.0.1:4566 (got "${v}")`);
  return v.replace(/\/+$/, '');
}
