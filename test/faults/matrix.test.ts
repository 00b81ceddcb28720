import { afterAll, describe, expect, it } from 'vitest';
import { report } from '../support/report';
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
 * The fault matrix (README "Every failure converges"). `npm test` runs a representative slice; `npm run
 * test:faults` (FAULT_MATRIX=full, run by .ci/run) runs every point with every kind. Cases run concurrently,
 * each in a local cloud of its own.
 */
const FULL = process.env['FAULT_MATRIX'] === 'full';
const points = await recordPoints();

const cases: { point: Point; kind: Kind }[] = FULL
  ? KINDS.flatMap((kind) => points.map((point) => ({ point, kind })))
  : SLICE.map(({ kind, name, occurrence }) => {
      const point = points.find((p) => name.test(p.name) && p.occurrence === occurrence);
      if (!point)
        throw new Error(`the slice names ${String(name)} #${occurrence}, which a rotation no longer makes`);
      return { point, kind };
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
  for (const { point, kind } of cases)
    it(`${kind} at ${pointLabel(point)}`, async () => {
      const r = await runCase(point, kind);
      results.push(r);
      expect(r.reached, 'the fault hit its call').toBe(true);
      expect(r.problems, `first run: ${r.firstRun}`).toEqual([]);
    }, 180_000);
});

afterAll(() => {
  const converged = results.filter((r) => r.reached && r.problems.length === 0).length;
  const kinds = new Set(cases.map((c) => c.kind)).size;
  const pointCount = new Set(cases.map((c) => pointLabel(c.point))).size;
  const retries = results.reduce((n, r) => n + r.retries, 0);
  report(
    `\nfault matrix (${FULL ? 'full' : 'slice'}): ${pointCount} points × ${kinds} kinds = ${cases.length} cases, ${converged} converged (${retries} same-token retries in all)\n`,
  );
});
