import { describe, expect, it } from 'vitest';
import { runScript } from '../support/scripts';

const runDemo = () => runScript('scripts/demo-keyless.ts');

describe('npm run demo:keyless', () => {
  it('takes the prod key keyless: plan, apply with proof, the key retired only after, the scan agreeing', async () => {
    const { code, out } = await runDemo();
    const at = (re: RegExp) => {
      const i = out.search(re);
      expect(i, String(re)).toBeGreaterThan(-1);
      return i;
    };
    const canary = at(/✓ canary ecr-canary-prod-ecr-push: build #\d+ SUCCESS with role/);
    const proof = at(
      /✓ proof of jenkins-prod-ecr-push-team-a\.deploy: CloudTrail: a web-identity session of the role/,
    );
    const deactivated = at(/✓ long-lived key: AKIA\w{16} deactivated/);
    expect(canary).toBeLessThan(deactivated);
    expect(proof).toBeLessThan(deactivated);
    at(/✓ long-lived key refused: AWS now refuses AKIA\w{16} \(InvalidClientTokenId\)/);
    at(/✓ the scan reports prod-ecr-push keyless since \d{4}-\d\d-\d\d with 0 active access keys/);
    expect(out).not.toContain('✗');
    expect(out).toContain('prod-ecr-push is keyless. All checks passed.');
    expect(code).toBe(0);
  }, 120_000);
});
