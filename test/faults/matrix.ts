import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Fault } from '../../localcloud/aws/state';
import type { JenkinsFault } from '../../localcloud/jenkins/state';
import type { StepOutcome } from './hook';
import { World, type Mode } from './world';

/**
 * The fault matrix: every outside call a rotation makes (a "point": the call's name and which occurrence of it),
 * times four kinds of fault, each followed by the resumption Secrets Manager does (the same token, the steps
 * again), then the end-state and safety checks of {@link World.problems}.
 */

export type Kind = '5xx' | 'throttle' | 'drop' | 'crash';
export const KINDS: readonly Kind[] = ['5xx', 'throttle', 'drop', 'crash'];

export interface Point {
  /** The call's point name in the emulators' record (`iam:CreateAccessKey`, `jenkins:GET /crumbIssuer/api/json`). */
  name: string;
  /** Which occurrence of that call in a clean rotation, from 1. */
  occurrence: number;
  emulator: 'aws' | 'jenkins';
}

export const pointLabel = (p: Point) => `${p.name} #${p.occurrence}`;

/** Runs one clean rotation and lists the rotator's own outside calls (not the canary build's), in order. */
export async function recordPoints(mode: Mode = 'hook'): Promise<Point[]> {
  const world = await World.start(mode);
  try {
    const token = mode === 'hook' ? await world.startRotation() : '';
    const from = world.calls.lastSeq;
    const steps = mode === 'hook' ? await world.runSteps(token) : await world.selfRunNow();
    if (!steps.every((s) => s.ok)) throw new Error(`the clean rotation failed: ${JSON.stringify(steps)}`);
    const seen = new Map<string, number>();
    return world.calls
      .since(from)
      .filter((c) => c.origin === 'client')
      .map((c) => {
        const occurrence = (seen.get(c.point) ?? 0) + 1;
        seen.set(c.point, occurrence);
        return { name: c.point, occurrence, emulator: c.emulator };
      });
  } finally {
    await world.close();
  }
}

/**
 * How many times in a row the fault answers: enough to outlast the clients' own retries (the SDK makes 3
 * attempts, the Jenkins client 3 for what it may repeat), so that the failure reaches the engine.
 */
const REPEAT = 3;
let nextId = 1;

function install(world: World, point: Point, kind: Kind): string | number {
  const common = {
    skip: point.occurrence - 1,
    remaining: kind === 'crash' ? 1 : REPEAT,
    origin: 'client' as const,
  };
  if (point.emulator === 'aws') {
    const id = `matrix-${nextId++}`;
    const fault: Fault = {
      id,
      action: point.name,
      ...common,
      ...(kind === '5xx' ? { error: { code: 'InternalFailure' } } : {}),
      ...(kind === 'throttle' ? { error: { code: 'Throttling' } } : {}),
      ...(kind === 'drop' ? { drop: 'after' as const } : {}),
      ...(kind === 'crash' ? { crash: true } : {}),
    };
    world.cloud.aws.state.faults.push(fault);
    return id;
  }
  const state = world.cloud.jenkins.state;
  const id = state.nextFaultId++;
  const fault: JenkinsFault = {
    id,
    point: point.name,
    ...common,
    ...(kind === '5xx' ? { status: 503 } : {}),
    ...(kind === 'throttle' ? { status: 429 } : {}),
    ...(kind === 'drop' ? { drop: 'after' as const } : {}),
    ...(kind === 'crash' ? { crash: true } : {}),
  };
  state.faults.push(fault);
  return id;
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

/** The steps in a child process; a crash fault kills it right after the call's effect, before it sees the answer. */
async function runChild(world: World, token: string): Promise<{ outcomes: StepOutcome[]; killed: boolean }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, FAULT_MATRIX_CHILD: JSON.stringify(world.childSpec(token)) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  let killed = false;
  world.calls.onCrash = async () => {
    killed = true;
    child.kill('SIGKILL');
    await exited;
  };
  const end = await exited;
  world.calls.onCrash = undefined;
  if (killed) return { outcomes: [], killed };
  const line = out.trim().split('\n').at(-1) ?? '';
  if (!line.startsWith('['))
    throw new Error(`the child process ended (${String(end)}) without a report: ${err.slice(0, 2000)}`);
  return { outcomes: JSON.parse(line) as StepOutcome[], killed };
}

export interface CaseResult {
  mode: Mode;
  point: Point;
  kind: Kind;
  /** The fault hit its call (a point a run does not reach again would make the case vacuous). */
  reached: boolean;
  /** The faulted run: the step that failed, if one did (a crash kills the run). */
  firstRun: string;
  /** How many same-token retries it took to converge (at most MAX_RETRIES). */
  retries: number;
  /** Everything wrong at the end; empty when the case converged. */
  problems: string[];
}

/** Secrets Manager retries a failed rotation "multiple times"; every case must converge within this many. */
export const MAX_RETRIES = 3;

export async function runCase(point: Point, kind: Kind, mode: Mode = 'hook'): Promise<CaseResult> {
  const world = await World.start(mode);
  try {
    const token = mode === 'hook' ? await world.startRotation() : '';
    const id = install(world, point, kind);
    const run = (opts: { takeOverRunning?: boolean } = {}) =>
      mode === 'hook' ? world.runSteps(token) : world.selfRunNow(opts);
    let firstRun: string;
    if (kind === 'crash') {
      const r = await runChild(world, token);
      firstRun = r.killed ? 'killed' : describe(r.outcomes);
    } else firstRun = describe(await run());
    const reached = world.calls.calls.some((c) => c.fault?.id === id);
    // The fault was transient: it is gone when Secrets Manager tries again.
    world.cloud.aws.state.faults = [];
    world.cloud.jenkins.state.faults = [];
    let retries = 0;
    let last: StepOutcome[] = [];
    while (retries < MAX_RETRIES) {
      retries += 1;
      // Secrets Manager retries with the same token; the next self-rotation run starts from a new build, and
      // after a crash the operator knows the earlier run is gone.
      last = await run({ takeOverRunning: kind === 'crash' });
      if (last.every((s) => s.ok)) break;
    }
    const problems = await world.problems();
    if (!last.every((s) => s.ok))
      problems.unshift(`still failing after ${retries} retries: ${describe(last)}`);
    return { mode, point, kind, reached, firstRun, retries, problems };
  } finally {
    await world.close();
  }
}

function describe(outcomes: StepOutcome[]): string {
  const failed = outcomes.find((o) => !o.ok);
  return failed ? `${failed.step} failed: ${failed.error ?? '?'}` : 'all steps passed';
}

/**
 * What `npm test` runs of the matrix: every kind at a few points chosen to cover each service and the calls
 * whose repetition is dangerous (CreateAccessKey, the stage moves, Jenkins writes and the crumb, the canary).
 */
export const SLICE: readonly { mode?: Mode; kind: Kind; name: RegExp; occurrence: number }[] = [
  { kind: 'crash', name: /^iam:CreateAccessKey$/, occurrence: 1 },
  { kind: 'crash', name: /^secretsmanager:PutSecretValue$/, occurrence: 1 },
  { kind: 'crash', name: /^secretsmanager:UpdateSecretVersionStage$/, occurrence: 1 },
  { kind: 'crash', name: /^iam:UpdateAccessKey$/, occurrence: 1 },
  { kind: 'drop', name: /^iam:CreateAccessKey$/, occurrence: 1 },
  { kind: 'drop', name: /^jenkins:POST .*aws-prod-userpass\/config\.xml$/, occurrence: 1 },
  { kind: 'drop', name: /^secretsmanager:UpdateSecretVersionStage$/, occurrence: 1 },
  { kind: '5xx', name: /^jenkins:GET \/crumbIssuer\/api\/json$/, occurrence: 1 },
  { kind: '5xx', name: /^ecr-registry:GET \/v2\/$/, occurrence: 1 },
  { kind: '5xx', name: /^iam:TagUser$/, occurrence: 2 },
  { kind: 'throttle', name: /^sts:GetCallerIdentity$/, occurrence: 1 },
  { kind: 'throttle', name: /^jenkins:POST .*buildWithParameters$/, occurrence: 1 },
  { kind: 'throttle', name: /^iam:ListAccessKeys$/, occurrence: 3 },
  { mode: 'self', kind: 'crash', name: /^iam:CreateAccessKey$/, occurrence: 1 },
  { mode: 'self', kind: 'crash', name: /^iam:UpdateAccessKey$/, occurrence: 1 },
  { mode: 'self', kind: 'drop', name: /^secretsmanager:UpdateSecretVersionStage$/, occurrence: 1 },
  { mode: 'self', kind: '5xx', name: /^jenkins:POST .*aws-prod\/config\.xml$/, occurrence: 1 },
];
