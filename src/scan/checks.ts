import { createHash } from 'node:crypto';
import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { runChecks } from '../checks/run';
import { fingerprint, type CheckReport, type Finding, type Severity } from '../checks/types';
import type { Composition } from '../compose';
import { awsErrorName, messageOf } from '../domain/errors';
import type { Clock, Log } from '../engine/ports';
import type { Inventory, SecretState } from './types';

/**
 * The security checks in the scheduled scan: once every `checks.everyHours` (a day by default) whatever the
 * schedule, with a count per severity in the summary and its notification; a high finding is notified the first
 * time it is seen, not every day. What ran when, and which high findings were notified, is kept in a small
 * state (an SSM parameter in AWS).
 */
export interface ChecksState {
  /** When the checks last ran (ISO). */
  lastRunAt?: string;
  /**
   * The high findings already notified, by a short hash of their fingerprint (see {@link notifiedKey}), with the
   * day they were first seen: about 140 fit in the parameter.
   */
  notified: Record<string, string>;
}

export interface ChecksStateStore {
  load(): Promise<ChecksState | undefined>;
  save(state: ChecksState): Promise<void>;
}

/** What the summary says about the checks. */
export type ScanChecks =
  | {
      ran: true;
      at: string;
      counts: Record<Severity, number> & { notChecked: number };
      /** High findings seen for the first time (bounded), what the notification names. */
      newHigh: Pick<Finding, 'check' | 'resource' | 'title' | 'fix'>[];
      newHighCount: number;
      /** The state could not be read or written: every high finding counts as new, once more. */
      stateError?: string;
    }
  | { ran: false; lastRunAt?: string; nextAt?: string; reason: string };

const HOUR = 3_600_000;
const MAX_NEW_HIGH = 20;

/** A finding's key in the state: 72 bits of its fingerprint's SHA-256, so that the state stays small. */
export const notifiedKey = (f: Finding): string =>
  createHash('sha256').update(fingerprint(f)).digest('base64url').slice(0, 12);

/** Whether the checks are due (pure). */
export function checksDue(state: ChecksState | undefined, now: Date, everyHours: number): boolean {
  if (everyHours <= 0) return false;
  if (!state?.lastRunAt) return true;
  return now.getTime() - Date.parse(state.lastRunAt) >= everyHours * HOUR - 5 * 60_000; // a schedule's jitter
}

/**
 * The new high findings and the next state (pure): a high finding is new when its fingerprint was not notified;
 * fingerprints of findings gone are forgotten, so a flaw that comes back is notified again.
 */
export function nextChecksState(
  report: CheckReport,
  previous: ChecksState | undefined,
  now: Date,
): { state: ChecksState; newHigh: Finding[] } {
  const notified: Record<string, string> = {};
  const newHigh: Finding[] = [];
  for (const f of report.findings.filter((x) => x.severity === 'high')) {
    const k = notifiedKey(f);
    const seen = previous?.notified[k];
    if (!seen) newHigh.push(f);
    notified[k] = seen ?? now.toISOString().slice(0, 10);
  }
  return { state: { lastRunAt: now.toISOString(), notified }, newHigh };
}

/**
 * Runs the checks if they are due and reports them for the summary. Never throws: a failure to run them is
 * reported (and the scan's own results stand).
 */
export async function scanChecks(
  composition: Composition,
  read: () => Promise<{ inventory: Inventory; states: readonly SecretState[] }>,
  opts: {
    clock: Clock;
    store?: ChecksStateStore;
    log?: Log;
    /** Gets the whole report when the checks ran (the scan's key report shows every finding). */
    onReport?: (report: CheckReport) => void;
  },
): Promise<ScanChecks> {
  const now = opts.clock.now();
  const everyHours = composition.config.checks.everyHours;
  let previous: ChecksState | undefined;
  let stateError: string | undefined;
  try {
    previous = await opts.store?.load();
  } catch (err) {
    stateError = `could not read the checks' state (${messageOf(err)})`;
  }
  if (!checksDue(previous, now, everyHours))
    return {
      ran: false,
      reason: everyHours <= 0 ? 'checks.everyHours is 0' : `the checks run every ${everyHours} h`,
      ...(previous?.lastRunAt
        ? {
            lastRunAt: previous.lastRunAt,
            nextAt: new Date(Date.parse(previous.lastRunAt) + everyHours * HOUR).toISOString(),
          }
        : {}),
    };
  let report: CheckReport;
  try {
    const { inventory, states } = await read();
    report = await runChecks(composition, { clock: opts.clock, inventory, states });
  } catch (err) {
    // The scan's own results stand; the checks are tried again next run (the state is not advanced).
    opts.log?.warn('security checks failed', { error: err });
    return { ran: false, reason: `the checks failed: ${messageOf(err)}` };
  }
  opts.onReport?.(report);
  const { state, newHigh } = nextChecksState(report, previous, now);
  try {
    await opts.store?.save(state);
  } catch (err) {
    stateError ??= `could not save the checks' state (${messageOf(err)})`;
  }
  return {
    ran: true,
    at: now.toISOString(),
    counts: report.counts,
    newHigh: newHigh
      .slice(0, MAX_NEW_HIGH)
      .map(({ check, resource, title, fix }) => ({ check, resource, title, fix })),
    newHighCount: newHigh.length,
    ...(stateError ? { stateError } : {}),
  };
}

/** The state in an SSM String parameter (standard tier, 4 KB: at most a few dozen fingerprints are kept). */
export function ssmChecksStateStore(ssm: SSMClient, name: string): ChecksStateStore {
  return {
    async load() {
      try {
        const r = await ssm.send(new GetParameterCommand({ Name: name }));
        const parsed = JSON.parse(r.Parameter?.Value ?? '{}') as Partial<ChecksState>;
        return {
          notified: parsed.notified ?? {},
          ...(parsed.lastRunAt ? { lastRunAt: parsed.lastRunAt } : {}),
        };
      } catch (err) {
        if (awsErrorName(err) === 'ParameterNotFound') return undefined;
        throw err;
      }
    },
    async save(state) {
      // Keep it inside the standard tier (4 KB): past ~140 high findings the oldest notifications are dropped, and
      // re-notified if still there.
      const entries = Object.entries(state.notified).sort((a, b) => b[1].localeCompare(a[1]));
      let kept = entries;
      let value = JSON.stringify({ ...state, notified: Object.fromEntries(kept) });
      while (value.length > 4000 && kept.length) {
        kept = kept.slice(0, Math.floor(kept.length * 0.8));
        value = JSON.stringify({ ...state, notified: Object.fromEntries(kept) });
      }
      await ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }));
    },
  };
}
