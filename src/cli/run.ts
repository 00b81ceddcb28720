import { userInfo } from 'node:os';
import { ConfigError, type ManagedKey, type RotatorConfig } from '../config';
import { examplePlaceholders, placeholderWarnings } from '../config/placeholders';
import { stackIssues } from '../config/stack';
import type { Composition } from '../compose';
import { emergencyRotate } from '../engine/emergency';
import { diagnoseRotation, type RotationProblem } from '../domain/diagnose';
import { messageOf } from '../domain/errors';
import { abandonRotation, resumeRotation, rotateNow, type RecoveryReport } from '../engine/rotate-now';
import {
  checkJenkinsTargets,
  collectInventory,
  planScan,
  readSecretStates,
  type JenkinsTargetCheck,
} from '../scan';
import {
  type AuditArgs,
  type GlobalOptions,
  type PlanArgs,
  type RotateArgs,
  type ValidateArgs,
} from './args';
import { auditCsv, buildAudit, formatAudit, needsAction, staleKeys } from './audit';
import {
  awsSetup,
  cliComposition,
  closeComposition,
  configFile,
  loadConfig,
  loadConfigOrEmpty,
} from './context';
import { CliError, describeError, errorDetails, EXIT, oneLine, UsageError, type ExitCode } from './errors';
import { checkCommand } from './check';
import { colorsFor, paintMessages } from './colors';
import { managedKeyFor } from './managed-key';
import { keylessCommand } from './keyless';
import { doctorCommand, planReachability } from './doctor';
import { count } from './format';
import { answerFront, cliVersion, type CommandLine } from './front';
import { checkUserPaths, userPathIssues, type IamUserCheck } from './iam-paths';
import { cliLog, type CliIo } from './io';
import { buildPlanReport, formatPlan } from './plan';
import { formatEmergencyReport, formatRecoveryReport, formatRotateReport, progressReporter } from './rotate';
import { reportCommand } from './report';
import { readSandbox, type SandboxTarget } from './sandbox';
import { readStageParams } from './stage';
import { selfRotateCommand } from './self-rotate';
import { formatValidation, validationResult, type ValidationResult } from './validate';

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/**
 * Runs one command line and returns its exit code; never throws. Results go to `io.out`, everything else to
 * `io.err`, errors as one line (`key-rotator: error: …`) plus details with --verbose.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const front = answerFront(argv, io);
  return 'code' in front ? front.code : runCommand(front.line, io);
}

/** Runs a parsed command line (see {@link runCli}). */
export async function runCommand(line: CommandLine, rawIo: CliIo): Promise<ExitCode> {
  // Errors and warnings in colour when stderr is a terminal (and NO_COLOR does not say otherwise).
  const errColors = colorsFor(rawIo.errIsTTY, rawIo.env);
  const io: CliIo = { ...rawIo, err: (text) => rawIo.err(paintMessages(text, errColors)) };
  let verbose = false;
  /** The AWS endpoint in use, once known, for error messages. */
  const target: { endpoint?: string } = {};
  try {
    verbose = line.global.verbose;
    if (line.global.endpoint) target.endpoint = line.global.endpoint;
    const { args, global } = line;
    if (args.command === 'validate-config') return await validateCommand(args, global, io);
    if (args.command === 'self-rotate') {
      const config = await loadConfig(configFile(global, io));
      const key = managedKeyFor(config, args.target);
      return await selfRotateCommand(args, global, io, { key, all: config }, cliLog(io, global.verbose));
    }
    return await withAws(global, io, target, (ctx) =>
      args.command === 'audit'
        ? auditCommand(args, ctx)
        : args.command === 'plan'
          ? planCommand(args, ctx)
          : args.command === 'doctor'
            ? doctorCommand(args, () => ctx.compose(), io)
            : args.command === 'check'
              ? checkCommand(args, () => ctx.compose(), io)
              : args.command === 'keyless'
                ? keylessCommand(args, () => ctx.compose(), io)
                : args.command === 'report'
                  ? reportCommand(args, (o) => ctx.compose(o), io, `jenkins-key-rotator ${cliVersion()}`)
                  : rotateCommand(args, ctx),
    );
  } catch (err) {
    const usage = err instanceof UsageError;
    io.err(`key-rotator: error: ${describeError(err, target)}\n`);
    // A usage error is one line, which says where the help is.
    if (usage) return EXIT.usage;
    if (verbose) io.err(`${errorDetails(err)}\n`);
    else if (!(err instanceof CliError)) io.err(`(--verbose shows the details)\n`);
    return EXIT.failed;
  }
}

interface AwsContext {
  io: CliIo;
  global: GlobalOptions;
  /** Loads the configuration (for audit: optional), then builds the composition over AWS. */
  compose(opts?: {
    optionalConfig?: boolean;
  }): Promise<{ composition: Composition; configFile?: string; sandbox?: SandboxTarget }>;
}

/** Runs `fn` with the composition over AWS (endpoint, region, credentials resolved once), then frees the clients. */
async function withAws(
  global: GlobalOptions,
  io: CliIo,
  target: { endpoint?: string },
  fn: (ctx: AwsContext) => Promise<ExitCode>,
): Promise<ExitCode> {
  const compositions: Composition[] = [];
  const log = cliLog(io, global.verbose);
  try {
    return await fn({
      io,
      global,
      compose: async (opts = {}) => {
        // The sandbox line first (it may name the configuration), the configuration before anything AWS.
        const sandbox = global.sandbox !== undefined ? await readSandbox(global.sandbox, io) : undefined;
        const choice = configFile(
          global,
          io,
          sandbox?.configFile ? { sandboxConfigFile: sandbox.configFile } : {},
        );
        const loaded: { config: RotatorConfig; file?: string } = opts.optionalConfig
          ? await loadConfigOrEmpty(choice, io)
          : { config: await loadConfig(choice), file: choice.file };
        const aws = await awsSetup(global, io, sandbox);
        if (aws.endpoint) target.endpoint = aws.endpoint;
        const composition = cliComposition(loaded.config, aws, log);
        compositions.push(composition);
        return {
          composition,
          ...(loaded.file ? { configFile: loaded.file } : {}),
          ...(sandbox ? { sandbox } : {}),
        };
      },
    });
  } finally {
    for (const c of compositions) closeComposition(c);
  }
}

async function validateCommand(args: ValidateArgs, global: GlobalOptions, io: CliIo): Promise<ExitCode> {
  const checking = args.stage !== undefined || args.params.length > 0;
  const stage = checking ? await readStageParams(io.cwd, args.stage, args.params) : undefined;
  // The stage's configFile, unless a file is named on the command line.
  const stageFile = global.config === undefined ? stage?.params.configFile : undefined;
  const named = args.file ?? stageFile;
  const choice = configFile(global, io, named !== undefined ? { argument: named } : {});
  let config: RotatorConfig;
  try {
    config = await loadConfig(choice);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return reportValidation(validationResult(choice.file, err), args, io);
  }
  const stack = stage && {
    stage: args.stage ?? null,
    params: stage.params,
    unresolved: [...stage.unresolved],
  };
  const issues = stage ? stackIssues(config, { params: stage.params, region: global.region }) : [];
  let iam: IamUserCheck[] | undefined;
  const userPath = stage?.params.userPath;
  if (args.checkIam && userPath !== undefined) {
    const sandbox = global.sandbox !== undefined ? await readSandbox(global.sandbox, io) : undefined;
    const aws = await awsSetup(global, io, sandbox);
    const composition = cliComposition(config, aws, cliLog(io, global.verbose));
    try {
      iam = await checkUserPaths(composition, userPath);
    } finally {
      closeComposition(composition);
    }
    issues.push(...userPathIssues(iam, (name) => config.keys.findIndex((k) => k.name === name)));
  }
  const warnings = placeholderWarnings(config, await examplePlaceholders());
  return reportValidation(
    validationResult(choice.file, config, {
      issues,
      warnings,
      ...(stack ? { stack } : {}),
      ...(iam ? { iam } : {}),
    }),
    args,
    io,
  );
}

function reportValidation(result: ValidationResult, args: ValidateArgs, io: CliIo): ExitCode {
  io.out(args.json ? json(result) : formatValidation(result));
  if (result.warnings.length)
    io.err(
      `key-rotator: warning: ${result.file}: ${count(result.warnings.length, 'placeholder')} left (listed under warnings)\n`,
    );
  if (!result.valid) {
    io.err(
      `key-rotator: error: ${result.file} is not a valid configuration${result.stack ? ` for ${result.stack.stage ? `stage ${result.stack.stage}` : 'these parameters'}` : ''} (${count(result.issues.length, 'issue')})\n`,
    );
    return EXIT.failed;
  }
  const unchecked = (result.iam ?? []).filter((c) => c.status === 'not-checked').length;
  if (unchecked) {
    io.err(
      `key-rotator: error: the IAM check is incomplete: ${count(unchecked, 'user')} could not be read (see above); that is not a clean result\n`,
    );
    return EXIT.failed;
  }
  return EXIT.ok;
}

async function auditCommand(args: AuditArgs, ctx: AwsContext): Promise<ExitCode> {
  const { composition, configFile: file } = await ctx.compose({ optionalConfig: true });
  const [inventory, states] = await Promise.all([
    collectInventory(composition, { source: args.credentialReport ? 'auto' : 'list' }),
    readSecretStates(composition),
  ]);
  const report = buildAudit(inventory, composition.config, file, states);
  ctx.io.out(
    args.format === 'json'
      ? json(report)
      : args.format === 'csv'
        ? auditCsv(report)
        : formatAudit(report, colorsFor(ctx.io.outIsTTY, ctx.io.env)),
  );
  const unreadable = report.problems.filter((p) => p.kind === 'unreadable').length;
  const blocking = report.problems.filter((p) => p.kind !== 'unreadable' && needsAction(p)).length;
  const stale = args.failOnStale ? staleKeys(report, args.includeUnmanaged) : [];
  if (unreadable || blocking || stale.length) {
    const where = args.format === 'csv' ? 'shown by --format table or json' : 'listed first';
    const what = [
      stale.length &&
        `${count(stale.length, `${args.includeUnmanaged ? '' : 'managed '}key`)} past the rotation line (--fail-on-stale): ${stale
          .map((s) => `${s.key.accessKeyId} of ${s.user} (${s.key.ageDays} days, max ${s.key.maxAgeDays})`)
          .join(', ')}`,
      blocking &&
        `${blocking} rotation problem(s) that block rotations or leave a key working (${where}, each with its fix)`,
      unreadable &&
        `the audit is incomplete: ${unreadable} part(s) could not be read (${args.format === 'csv' ? where : 'listed under problems'})`,
    ].filter(Boolean);
    ctx.io.err(`key-rotator: error: ${what.join('; ')}\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

async function planCommand(args: PlanArgs, ctx: AwsContext): Promise<ExitCode> {
  const { composition, sandbox } = await ctx.compose();
  // As the deployed scan has it: the option, then $ROTATION_LAMBDA_ARN, then the function the sandbox deployed.
  const rotationLambdaArn =
    args.rotationLambdaArn ??
    (ctx.io.env['ROTATION_LAMBDA_ARN']?.trim() || undefined) ??
    sandbox?.rotationLambdaArn;
  const [inventory, states] = await Promise.all([
    collectInventory(composition, { source: args.credentialReport ? 'auto' : 'list' }),
    readSecretStates(composition),
  ]);
  const plan = planScan(
    inventory,
    composition.config,
    states,
    new Date(),
    rotationLambdaArn ? { rotationLambdaArn } : {},
  );
  const jenkins: JenkinsTargetCheck[] = [];
  for (const key of composition.config.keys) jenkins.push(...(await checkJenkinsTargets(composition, key)));
  const report = buildPlanReport(inventory, plan, jenkins);
  // The doctor's reachability checks, one line per target (see doctor.ts).
  const reach = await planReachability(composition);
  const unreachable = reach.targets.filter((t) => !t.ok).length;
  ctx.io.out(
    args.json
      ? json({ ...report, reachability: reach.targets, ok: report.ok && reach.ok })
      : formatPlan(report, colorsFor(ctx.io.outIsTTY, ctx.io.env)) + reach.text,
  );
  if (!report.ok || !reach.ok) {
    const what = [
      report.counts.fail && `${report.counts.fail} key(s) would fail`,
      report.counts.problemErrors &&
        `${report.counts.problemErrors} problem(s) of severity error the run would not repair`,
      report.counts.jenkinsFailed && `${report.counts.jenkinsFailed} Jenkins credential check(s) failed`,
      unreachable && `${unreachable} Jenkins target(s) not reachable`,
    ].filter(Boolean);
    ctx.io.err(`key-rotator: error: the plan found problems: ${what.join(', ')}\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

/** The managed key `rotate <user>` names: by IAM user (case-insensitive, as IAM) or by the key's name. */
async function rotateCommand(args: RotateArgs, ctx: AwsContext): Promise<ExitCode> {
  const { io } = ctx;
  const { composition } = await ctx.compose();
  const isKeyId = /^(AKIA|ASIA)/.test(args.target);
  const key = isKeyId ? undefined : managedKeyFor(composition.config, args.target);
  const progress = progressReporter(io);
  const abort = new AbortController();
  const untrap = io.trapInterrupt?.(() => {
    progress.done();
    io.err(
      'key-rotator: interrupted: stopping at the next wait; a normal rotation is then undone (Ctrl-C again quits at once)\n',
    );
    abort.abort(new CliError('interrupted by the operator (Ctrl-C)'));
  });
  try {
    const common = { onStep: progress.onStep, onProgress: progress.onProgress, signal: abort.signal };
    if (args.emergency) {
      const reason = args.reason ?? `emergency rotation from the key-rotator CLI (by ${safeUser()})`;
      io.err(
        `key-rotator: EMERGENCY rotation of ${key ? `${key.name} (IAM user ${key.iamUser})` : `access key ${args.target}`}: ${reason}\n`,
      );
      const input = {
        ...(key ? { userName: key.iamUser } : { accessKeyId: args.target }),
        ...(key?.accountId ? { accountId: key.accountId } : {}),
        reason,
        deleteOld: args.deleteOld,
      };
      const report = await emergencyRotate(composition, input, {
        ...common,
        ...(ctx.global.verbose ? { log: cliLog(io, true) } : {}),
      });
      progress.done();
      io.out(args.json ? json(report) : formatEmergencyReport(report));
      if (report.outcome === 'rotated' || report.outcome === 'revoked') return EXIT.ok;
      io.err(`key-rotator: error: emergency ${report.outcome}: ${oneLine(report.summary)}\n`);
      return EXIT.failed;
    }
    if (!key) throw new CliError('internal: no key to rotate');
    // Deleting the last rotation's rollback key to make room needs the operator's word (--yes or --delete-old).
    const rollbackKeyDeletion = args.yes || args.deleteOld ? 'allow' : 'refuse';
    if (args.recovery) {
      io.err(
        `key-rotator: ${args.recovery === 'resume' ? 'resuming the rotation' : 'abandoning the rotation in flight'} of ${key.name} (IAM user ${key.iamUser})\n`,
      );
      const report =
        args.recovery === 'resume'
          ? await resumeRotation(composition, key, {
              ...common,
              deleteOld: args.deleteOld,
              rollbackKeyDeletion,
              force: args.force,
            })
          : await abandonRotation(composition, key, { force: args.force });
      progress.done();
      io.out(args.json ? json(report) : formatRecoveryReport(report));
      if (report.outcome !== 'failed') return EXIT.ok;
      io.err(`key-rotator: error: ${recoveryFailure(report)}\n`);
      return EXIT.failed;
    }
    io.err(`key-rotator: rotating ${key.name} (IAM user ${key.iamUser})\n`);
    const report = await rotateNow(composition, key, {
      ...common,
      deleteOld: args.deleteOld,
      rollbackKeyDeletion,
    });
    progress.done();
    if (report.outcome === 'rotated') {
      io.out(args.json ? json(report) : formatRotateReport(report));
      return EXIT.ok;
    }
    if (report.error?.code === 'ConfirmationRequired') {
      io.out(args.json ? json(report) : formatRotateReport(report));
      io.err(
        `key-rotator: error: ${oneLine(report.error.message)} with --yes (key-rotator rotate ${key.iamUser} --yes)\n`,
      );
      return EXIT.failed;
    }
    // What the failed rotation left, read again, with the command that fixes each problem.
    const left = await leftProblems(composition, key, io);
    io.out(
      args.json ? json({ ...report, ...(left ? { problems: left } : {}) }) : formatRotateReport(report, left),
    );
    io.err(
      `key-rotator: error: the rotation of ${key.name} failed at ${report.failedStep ?? '?'}: ${oneLine(report.error?.message ?? 'unknown error')}\n`,
    );
    return EXIT.failed;
  } finally {
    progress.done();
    untrap?.();
  }
}

/** The rotation problems of `key` now (read through the engine); undefined, with a warning, if unreadable. */
async function leftProblems(
  composition: Composition,
  key: ManagedKey,
  io: CliIo,
): Promise<RotationProblem[] | undefined> {
  try {
    return diagnoseRotation(await composition.engine.observeRotation(key), { abandonAfterHours: 0 });
  } catch (err) {
    io.err(
      `key-rotator: warning: could not read what the failed rotation left: ${oneLine(messageOf(err))}\n`,
    );
    return undefined;
  }
}

/** The one error line of a failed --resume or --abandon. */
function recoveryFailure(r: RecoveryReport): string {
  const what = `the ${r.action === 'resume' ? 'resume' : 'abandon'} of ${r.key}`;
  const why = r.error?.message ?? r.actions.at(-1) ?? 'unknown error';
  const confirm =
    r.error?.code === 'ConfirmationRequired'
      ? ` with --yes (key-rotator rotate ${r.user} --resume --yes)`
      : '';
  return `${what} failed${r.rotation?.failedStep ? ` at ${r.rotation.failedStep}` : ''}: ${oneLine(why)}${confirm}`;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown user';
  }
}
