import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScript } from '../support/scripts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jkr-start-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const runStart = () =>
  runScript('scripts/start.ts', {
    START_PROPAGATION_DELAY_MS: '500',
    START_REPORT_FILE: join(dir, 'key-report.html'),
  });

describe('npm start', () => {
  it('rotates the 120-day key end to end, leaves the 10-day key alone and exits 0', async () => {
    const { code, out } = await runStart();
    expect(out).toMatch(/→ rotation started for prod-ecr-push/);
    expect(out).toMatch(/dev-ecr-push skipped: not due/);
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'])
      expect(out).toContain(`✓ ${step}`);
    expect(out).toMatch(/✓ jenkins-prod: ECR accepted the new key .*answered 200/);
    expect(out).toMatch(/✓ jenkins-prod: Jenkins credential aws-prod \(system store, aws\) holds AKIA/);
    expect(out).toMatch(/✓ jenkins-prod: Jenkins credential aws-prod-userpass \(folder team-a\/deploy/);
    expect(out).toMatch(
      /✓ jenkins-prod: the old key AKIA\w+ is Inactive and AWS now refuses it \(InvalidClientTokenId\)/,
    );
    expect(out).toMatch(/✓ jenkins-dev: key AKIA\w+ is 10 days old, not due: left alone/);
    // The scan's security checks find the three flaws the demo seeds, each with its fix; they fail nothing.
    expect(out).toMatch(/Security checks \(run by the scan once a day, read-only\): 3 high, 0 medium, 0 low/);
    expect(out).toMatch(
      /! user jenkins-prod has the AWS managed policy AmazonEC2ContainerRegistryFullAccess/,
    );
    expect(out).toMatch(
      /fix: key-rotator check --key prod-ecr-push --emit-policy policies && aws iam put-user-policy/,
    );
    expect(out).toMatch(/! access key AKIA\w+ is written in the configuration of team-a\/legacy-deploy/);
    expect(out).toMatch(/! no CloudTrail trail covers account \d{12} in us-east-1/);
    expect(out).not.toContain('✗');
    expect(out).toContain('All checks passed.');
    // The key report of the account after the run, where it says, with every key before and after.
    const file = join(dir, 'key-report.html');
    expect(out).toContain(`Key report: ${file}\n`);
    const page = await readFile(file, 'utf8');
    const keys = [...new Set(out.match(/AKIA[A-Z0-9]{16}/g))];
    expect(keys.length).toBeGreaterThanOrEqual(3);
    for (const k of keys) expect(page).toContain(`<th scope="row" class="mono">${k}</th>`);
    expect(page).toContain('<h3 id="history-0-h">prod-ecr-push</h3>');
    expect(code).toBe(0);
  }, 120_000);
});
