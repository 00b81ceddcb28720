/**
 * The record of outside calls both emulators share, and the fault machinery they share.
 *
 * Every AWS API call, every registry request (`/v2/…`) and every Jenkins request gets a `seq` from one monotonic
 * counter (the AWS key event log draws from the same counter) and a stable point name, so a test can list the
 * calls of a run, then target the k-th occurrence of any of them with a fault (`skip: k - 1`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod';

/** Set by the Jenkins emulator's canary builds on their calls to the AWS emulator (see jenkins/jobs.ts). */
export const ORIGIN_HEADER = 'x-localcloud-origin';
export const JENKINS_BUILD_ORIGIN = 'jenkins-build';

/** Who made a call: a client of the emulators, or a canary build of the Jenkins emulator itself. */
export type CallOrigin = 'client' | typeof JENKINS_BUILD_ORIGIN;

export const originOf = (req: IncomingMessage): CallOrigin =>
  req.headers[ORIGIN_HEADER] === JENKINS_BUILD_ORIGIN ? JENKINS_BUILD_ORIGIN : 'client';

export type FaultKind = 'error' | 'latency' | 'drop-before' | 'drop-after' | 'crash';

export interface CallRecord {
  /** Position in the shared sequence, taken when the request arrives. */
  seq: number;
  emulator: 'aws' | 'jenkins';
  /**
   * Stable name of the kind of call: `iam:CreateAccessKey`, `secretsmanager:PutSecretValue`,
   * `ecr-registry:GET /v2/`, `jenkins:POST /credentials/store/system/domain/_/credential/aws-ci/config.xml`.
   * Jenkins paths go without their query, and queue item ids and build numbers become `*` (see jenkinsPoint).
   */
  point: string;
  origin: CallOrigin;
  /**
   * AWS: the principal ARN (registry: the ARN the token was issued to); Jenkins: the user id or `anonymous`.
   * Null when the caller was not authenticated.
   */
  caller: string | null;
  /** AWS: the access key id that signed the request, even when it was refused. */
  accessKeyId?: string;
  /** Real time the request arrived, epoch ms. */
  at: number;
  /** `dropped`: the connection was destroyed without an answer (a drop or crash fault, or the client left). */
  response: 'pending' | 'sent' | 'dropped';
  /**
   * The status the emulator answered, or under a drop-after/crash fault would have answered; null while pending
   * and when the call was dropped before it was handled.
   */
  status: number | null;
  /** The emulator handled the call successfully (status < 400), whether or not the client got the answer. */
  ok: boolean;
  /** AWS: the error code answered. */
  error?: string;
  fault?: { id: string | number; kind: FaultKind };
  /** The crash callback threw: its message (the connection was still dropped). */
  crashCallbackError?: string;
}

export type CrashCallback = (call: Readonly<CallRecord>) => void | Promise<void>;

/** The shared, append-only record. One per local cloud; an emulator started alone has its own. */
export class CallLog {
  readonly calls: CallRecord[] = [];
  private seq = 0;
  /**
   * Awaited when a `crash` fault fires: after the call's effect is applied and before the connection is dropped
   * (e.g. kill the child process that made the call and wait for it to exit). Unset: a crash is a drop-after.
   */
  onCrash: CrashCallback | undefined;

  /** The last number handed out (to a call or a key event): `since(log.lastSeq)` later is what came after. */
  get lastSeq(): number {
    return this.seq;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  begin(init: Pick<CallRecord, 'emulator' | 'point' | 'origin' | 'caller' | 'accessKeyId'>): CallRecord {
    const record: CallRecord = {
      seq: this.nextSeq(),
      emulator: init.emulator,
      point: init.point,
      origin: init.origin,
      caller: init.caller,
      ...(init.accessKeyId === undefined ? {} : { accessKeyId: init.accessKeyId }),
      at: Date.now(),
      response: 'pending',
      status: null,
      ok: false,
    };
    this.calls.push(record);
    return record;
  }

  /** Calls with a `seq` greater than `seq` (the record is in `seq` order). */
  since(seq: number): CallRecord[] {
    let lo = 0;
    let hi = this.calls.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.calls[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return this.calls.slice(lo);
  }

  /** Forgets the recorded calls; the sequence goes on. */
  clear(): void {
    this.calls.length = 0;
  }
}

// --- faults -------------------------------------------------------------------------------------------------------

/** What every fault of both emulators has, besides what it matches and the error it answers. */
export interface FaultControls {
  id: string | number;
  /** Matching calls still to let through before the fault applies (targets the k-th occurrence: `skip: k - 1`). */
  skip?: number;
  /** How many matching calls it affects once `skip` is used up; decremented on each. */
  remaining: number;
  latencyMs?: number;
  /**
   * Destroy the connection without an answer. `before`: the call has no effect. `after`: the call is handled
   * (its effect applied, its answer computed), then the answer is thrown away with the connection. Work the AWS
   * emulator defers past its answer (RotateSecret's rotation) still runs, once the connection is dropped: the
   * service accepted the call.
   */
  drop?: 'before' | 'after';
  /** Like drop `after`, but the CallLog's `onCrash` callback is awaited before the connection is destroyed. */
  crash?: boolean;
  /** Only calls of this origin match (and count towards `skip`). */
  origin?: CallOrigin;
}

export function faultKind(f: FaultControls, answersError: boolean): FaultKind {
  if (f.crash) return 'crash';
  if (f.drop) return `drop-${f.drop}`;
  return answersError ? 'error' : 'latency';
}

/**
 * Takes the fault that applies to `call`. Every fault that matches sees the call: one still skipping counts it
 * down and lets it pass; the first one done skipping applies and loses one of its `remaining`. Exhausted faults
 * are removed from `faults` (in place).
 */
export function takeFault<F extends FaultControls>(
  faults: F[],
  call: CallRecord,
  matches: (f: F) => boolean,
): F | undefined {
  let taken: F | undefined;
  for (const f of faults) {
    if (f.remaining <= 0 || (f.origin !== undefined && f.origin !== call.origin) || !matches(f)) continue;
    if (f.skip !== undefined && f.skip > 0) f.skip -= 1;
    else if (!taken) {
      taken = f;
      f.remaining -= 1;
    }
  }
  if (taken && taken.remaining <= 0) faults.splice(faults.indexOf(taken), 1);
  return taken;
}

/** The admin fields every fault takes (`POST /_localcloud/faults` of both emulators). */
export const faultControlsShape = {
  count: z.number().int().positive().default(1),
  skip: z.number().int().nonnegative().optional(),
  latencyMs: z.number().int().nonnegative().max(120_000).optional(),
  drop: z.enum(['before', 'after']).optional(),
  crash: z.boolean().optional(),
  origin: z.enum(['client', JENKINS_BUILD_ORIGIN]).optional(),
};

type FaultControlsInput = z.output<z.ZodObject<typeof faultControlsShape>>;

/** Why a fault spec is incomplete or contradictory, naming `errorField` (AWS `error`, Jenkins `status`). */
export function faultSpecProblem(
  f: FaultControlsInput,
  hasError: boolean,
  errorField: string,
): string | undefined {
  const kinds = [hasError && errorField, f.drop && 'drop', f.crash && 'crash'].filter(Boolean);
  if (kinds.length > 1) return `a fault is one of ${errorField}, drop or crash, not ${kinds.join(' and ')}`;
  if (kinds.length === 0 && f.latencyMs === undefined)
    return `a fault needs ${errorField}, latencyMs, drop or crash`;
  return undefined;
}

/** The stored form of the shared admin fields. */
export function faultControlsOf(f: FaultControlsInput): Omit<FaultControls, 'id'> {
  return {
    remaining: f.count,
    ...(f.skip ? { skip: f.skip } : {}),
    ...(f.latencyMs ? { latencyMs: f.latencyMs } : {}),
    ...(f.drop ? { drop: f.drop } : {}),
    ...(f.crash ? { crash: true } : {}),
    ...(f.origin ? { origin: f.origin } : {}),
  };
}

// --- serving one recorded call ------------------------------------------------------------------------------------

type Loose = (...args: unknown[]) => unknown;

/** One request being served: keeps its record up to date and carries out the connection side of a fault. */
export class ServedCall {
  private intercepting = false;
  private interceptedEnd = false;
  private interceptedStatus: number | undefined;
  private resolveSettled!: () => void;
  /** Resolves once the answer is handed to the connection, or the connection has been dropped. */
  readonly settled = new Promise<void>((resolve) => (this.resolveSettled = resolve));

  constructor(
    private readonly log: CallLog,
    readonly record: CallRecord,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    const r = res as unknown as { writeHead: Loose; write: Loose; end: Loose; flushHeaders: Loose };
    const { writeHead, write, end, flushHeaders } = r;
    r.writeHead = (...args) => {
      if (!this.intercepting) return writeHead.apply(res, args);
      if (typeof args[0] === 'number') this.interceptedStatus = args[0];
      return res;
    };
    r.write = (...args) => (this.intercepting ? true : write.apply(res, args));
    r.flushHeaders = (...args) => (this.intercepting ? undefined : flushHeaders.apply(res, args));
    r.end = (...args) => {
      if (this.intercepting) {
        void this.dropAfterHandling();
        return res;
      }
      if (record.response === 'pending') {
        this.answered(res.statusCode);
        record.response = 'sent';
      }
      const out = end.apply(res, args);
      this.resolveSettled();
      return out;
    };
    res.on('close', () => {
      if (record.response === 'pending') record.response = 'dropped';
      this.resolveSettled();
    });
  }

  /**
   * Applies a taken fault's latency and connection behaviour. True when the call was dropped before being
   * handled; otherwise the caller answers the fault's error, if it has one, or handles the call.
   */
  async applyFault(fault: FaultControls, answersError: boolean): Promise<boolean> {
    this.record.fault = { id: fault.id, kind: faultKind(fault, answersError) };
    if (fault.latencyMs) await new Promise((r) => setTimeout(r, fault.latencyMs).unref());
    if (fault.drop === 'before') {
      this.drop();
      return true;
    }
    if (fault.drop === 'after' || fault.crash) this.intercepting = true;
    return false;
  }

  private answered(status: number): void {
    this.record.status = status;
    this.record.ok = status < 400;
  }

  private drop(): void {
    this.record.response = 'dropped';
    this.req.socket.destroy();
    this.resolveSettled();
  }

  private async dropAfterHandling(): Promise<void> {
    if (this.interceptedEnd) return;
    this.interceptedEnd = true;
    this.answered(this.interceptedStatus ?? this.res.statusCode);
    const onCrash = this.log.onCrash;
    if (this.record.fault?.kind === 'crash' && onCrash) {
      try {
        await onCrash(this.record);
      } catch (err) {
        this.record.crashCallbackError = err instanceof Error ? err.message : String(err);
      }
    }
    this.drop();
  }
}
