import { afterAll, describe, expect, it } from 'vitest';
import { report } from '../support/report';
import type { Mode } from './world';
import {
  KINDS,
  pointLabel,
  recordPoints,
  runCase,
  SLICE,
  type CaseResult,
  type Kind,
  type Point,
} from './matrix';

/**
 * The fault matrix (docs/development.md, "Every failure converges"). `npm test` runs a representative slice; `npm run
 * test:faults` (FAULT_MATRIX=full, run by .ci/run) runs every point with every kind. Cases run concurrently,
 * each in a local cloud of its own.
 */
const FULL = process.env['FAULT_MATRIX'] === 'full';
const MODES: readonly Mode[] = ['hook', 'self'];
const pointsOf: Record<Mode, Point[]> = {
  hook: await recordPoints('hook'),
  self: await recordPoints('self'),
};
const points = pointsOf.hook;

const cases: { mode: Mode; point: Point; kind: Kind }[] = FULL
  ? MODES.flatMap((mode) => KINDS.flatMap((kind) => pointsOf[mode].map((point) => ({ mode, point, kind }))))
  : SLICE.map(({ mode = 'hook', kind, name, occurrence }) => {
      const point = pointsOf[mode].find((p) => name.test(p.name) && p.occurrence === occurrence);
      if (!point)
        throw new Error(
          `the slice names ${String(name)} #${occurrence}, which a ${mode} rotation no longer makes`,
        );
      return { mode, point, kind };
    });
const results: CaseResult[] = [];

describe('the recorded rotation', () => {
  it('makes the outside calls of every service the matrix must cover', () => {
    const names = points.map((p) => p.name);
    for (const expected of [
      /^iam:CreateAccessKey$/,
      /^iam:UpdateAccessKey$/,
      /^iam:TagUser$/,
      /^sts:GetCallerIdentity$/,
      /^secretsmanager:PutSecretValue$/,
      /^secretsmanager:UpdateSecretVersionStage$/,
      /^ecr:GetAuthorizationToken$/,
      /^ecr-registry:GET \/v2\/$/,
      /^jenkins:GET \/crumbIssuer\/api\/json$/,
      /^jenkins:GET .*aws-prod\/config\.xml$/,
      /^jenkins:POST .*aws-prod-userpass\/config\.xml$/,
      /^jenkins:POST .*buildWithParameters$/,
      /^jenkins:GET \/queue\/item\/\*\/api\/json$/,
      /^jenkins:GET \/job\/ecr-canary-[^/]+\/\*\/api\/json$/,
    ])
      expect(
        names.some((n) => expected.test(n)),
        String(expected),
      ).toBe(true);
  });
});

describe.concurrent(`fault matrix (${FULL ? 'full' : 'slice'})`, () => {
  for (const { mode, point, kind } of cases)
    it(`${mode}: ${kind} at ${pointLabel(point)}`, async () => {
      const r = await runCase(point, kind, mode);
      results.push(r);
      expect(r.reached, 'the fault hit its call').toBe(true);
      expect(r.problems, `first run: ${r.firstRun}`).toEqual([]);
    }, 180_000);
});

afterAll(() => {
  let text = '';
  for (const mode of MODES) {
    const mine = cases.filter((c) => c.mode === mode);
    const done = results.filter((r) => r.mode === mode);
    const converged = done.filter((r) => r.reached && r.problems.length === 0).length;
    const kinds = new Set(mine.map((c) => c.kind)).size;
    const pointCount = new Set(mine.map((c) => pointLabel(c.point))).size;
    const retries = done.reduce((n, r) => n + r.retries, 0);
    text += `fault matrix (${FULL ? 'full' : 'slice'}, ${mode === 'hook' ? 'rotation hook' : 'self-rotation'}): ${pointCount} points × ${kinds} kinds = ${mine.length} cases, ${converged} converged (${retries} retries in all)\n`;
  }
  report(`\n${text}`);
});
