import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { awsErrorName } from '../domain/errors';

/**
 * Where a scan stopped, for the next run (docs/fleet.md). The rotation state itself lives in Secrets Manager and
 * IAM, and every run reads it again, so a rotation begun is never begun twice (a started one is in flight or done;
 * RotateSecret refuses a second while one is unfinished). What the checkpoint adds is the order: the rotations a
 * run deferred (its limit, its deadline) go first in the next run, so a fleet drains oldest-deferred first.
 */
export interface ScanCheckpoint {
  version: 1;
  savedAt: string;
  /** Why the run stopped early, if it did. */
  stoppedBy?: string;
  /** The managed keys whose rotation was deferred, in the order they were due to start. */
  deferred: string[];
  /** How many were deferred, when the list had to be shortened to fit the parameter. */
  deferredCount: number;
}

export interface CheckpointStore {
  /** Undefined when there is none yet. */
  load(): Promise<ScanCheckpoint | undefined>;
  save(checkpoint: ScanCheckpoint): Promise<void>;
}

/** A standard-tier SSM parameter holds 4 KB. */
const MAX_BYTES = 4000;

/** The checkpoint as stored: the deferred list shortened (its count kept) until it fits. */
export function checkpointValue(c: ScanCheckpoint): string {
  let deferred = c.deferred;
  let value = JSON.stringify({ ...c, deferred });
  while (Buffer.byteLength(value) > MAX_BYTES && deferred.length)
    value = JSON.stringify({
      ...c,
      deferred: (deferred = deferred.slice(0, Math.floor(deferred.length * 0.8))),
    });
  return value;
}

/** Reads a stored checkpoint; anything that is not one is treated as none (a run then starts in plan order). */
export function parseCheckpoint(text: string | undefined): ScanCheckpoint | undefined {
  try {
    const v = JSON.parse(text ?? '') as Partial<ScanCheckpoint>;
    if (v.version !== 1 || typeof v.savedAt !== 'string' || !Array.isArray(v.deferred)) return undefined;
    const deferred = v.deferred.filter((k): k is string => typeof k === 'string');
    return {
      version: 1,
      savedAt: v.savedAt,
      ...(typeof v.stoppedBy === 'string' ? { stoppedBy: v.stoppedBy } : {}),
      deferred,
      deferredCount: typeof v.deferredCount === 'number' ? v.deferredCount : deferred.length,
    };
  } catch {
    return undefined;
  }
}

/** The checkpoint in the SSM parameter `name` (String, standard tier; created on the first save). */
export function ssmCheckpointStore(ssm: SSMClient, name: string): CheckpointStore {
  return {
    async load() {
      try {
        const r = await ssm.send(new GetParameterCommand({ Name: name }));
        return parseCheckpoint(r.Parameter?.Value);
      } catch (err) {
        if (awsErrorName(err) === 'ParameterNotFound') return undefined;
        throw err;
      }
    },
    async save(checkpoint) {
      await ssm.send(
        new PutParameterCommand({
          Name: name,
          Value: checkpointValue(checkpoint),
          Type: 'String',
          Overwrite: true,
        }),
      );
    },
  };
}

/**
 * The rotations in the order a run starts them: those the last run deferred first, in its order, then the rest in
 * plan order.
 */
export function resumeOrder<T extends { key: string }>(
  rotate: readonly T[],
  checkpoint?: ScanCheckpoint,
): T[] {
  if (!checkpoint?.deferred.length) return [...rotate];
  const rank = new Map(checkpoint.deferred.map((k, i) => [k, i]));
  const first = rotate.filter((a) => rank.has(a.key)).sort((a, b) => rank.get(a.key)! - rank.get(b.key)!);
  return [...first, ...rotate.filter((a) => !rank.has(a.key))];
}
