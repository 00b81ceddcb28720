/**
 * A rotation hook (or a self-rotation) in a process of its own, so that the fault matrix can kill it at any outside
 * call (a crash right after the call's response). Reads its ChildSpec as JSON from FAULT_MATRIX_CHILD, runs the
 * four steps of one token as Secrets Manager would (or one self-rotate run), reports each testSecret pass to the
 * parent before going on, and prints its step outcomes as one JSON line. Exit 0 when every step passed, 1 otherwise.
 */
import { hookInvoker, selfRun, type ChildSpec } from './hook';

const spec = JSON.parse(process.env['FAULT_MATRIX_CHILD'] ?? '{}') as ChildSpec;
const passed = async (token: string) => {
  const res = await fetch(spec.markerUrl, { method: 'POST', body: JSON.stringify({ token }) });
  await res.body?.cancel();
};
const outcomes = spec.mode === 'self' ? await selfRun(spec, passed) : await hookInvoker(spec, passed)();
process.stdout.write(`${JSON.stringify(outcomes)}\n`);
process.exitCode = outcomes.every((o) => o.ok) ? 0 : 1;
