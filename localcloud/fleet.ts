/**
 * A large account for fleet tests and `npm run bench`: thousands of IAM users with one key each, written straight
 * into the emulator's state (no API calls, so seeding 5,000 users takes milliseconds). Test and bench
 * infrastructure only.
 */
import type { AwsState } from './aws/state';

const DAY = 86_400_000;

export interface FleetUser {
  userName: string;
  accessKeyId: string;
}

/**
 * `count` users `fleet-0000`… on `path`, each with one active key, established; every `staleEvery`-th key is
 * `staleAgeDays` old, the others `youngAgeDays`; each used a day ago. Returns the users in order.
 */
export function seedFleetUsers(
  state: AwsState,
  opts: { count: number; path?: string; staleEvery?: number; staleAgeDays?: number; youngAgeDays?: number },
): FleetUser[] {
  const acct = state.defaultAccountId;
  const now = state.now();
  const out: FleetUser[] = [];
  for (let i = 0; i < opts.count; i++) {
    const userName = `fleet-${String(i).padStart(4, '0')}`;
    const stale = opts.staleEvery !== undefined && i % opts.staleEvery === 0;
    const age = stale ? (opts.staleAgeDays ?? 200) : (opts.youngAgeDays ?? 30);
    const user = state.createUser(acct, userName, {
      path: opts.path ?? '/jenkins/',
      createDate: now - 400 * DAY,
    });
    const key = state.createAccessKey(user, { createDate: now - age * DAY, established: true });
    key.lastUsed = { date: now - DAY, serviceName: 'ecr', region: state.defaultRegion };
    out.push({ userName, accessKeyId: key.accessKeyId });
  }
  return out;
}

/**
 * The most IAM calls the emulator saw arrive in any window of `windowMs` (from `since`, a CallLog seq), of those
 * signed with `accessKeyId` when given (the scan's own, apart from the rotation hook's).
 */
export function peakIamCalls(state: AwsState, since: number, windowMs = 1000, accessKeyId?: string): number {
  const at = state.calls
    .since(since)
    .filter(
      (c) =>
        c.emulator === 'aws' &&
        c.point.startsWith('iam:') &&
        (accessKeyId === undefined || c.accessKeyId === accessKeyId),
    )
    .map((c) => c.at)
    .sort((a, b) => a - b);
  let peak = 0;
  let lo = 0;
  for (let hi = 0; hi < at.length; hi++) {
    while (at[hi]! - at[lo]! >= windowMs) lo++;
    peak = Math.max(peak, hi - lo + 1);
  }
  return peak;
}

/** An administrator of the emulated account with its own key: calls it signs can be told apart from others'. */
export function seedAdmin(
  state: AwsState,
  userName: string,
): { accessKeyId: string; secretAccessKey: string } {
  const user = state.createUser(state.defaultAccountId, userName);
  const key = state.createAccessKey(user, { established: true });
  return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
}
