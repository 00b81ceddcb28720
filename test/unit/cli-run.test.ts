import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError, errorDetails, EXIT } from '../../src/cli/errors';
import type { CliIo } from '../../src/cli/io';
import { runCli } from '../../src/cli/run';
import { ConfigError } from '../../src/config';

const EXAMPLE = join(import.meta.dirname, '../../config/example.json');
let dir: string;

const VALID = {
  version: 1,
  keys: [
    {
      name: 'prod-ecr-push',
      iamUser: 'jenkins-prod',
      secretId: 'jenkins/prod/aws-key',
      jenkins: [
        {
          url: 'https://jenkins.acme.io',
          user: 'key-rotator',
          tokenSecretId: 'key-rotator/jenkins-api-token',
          store: 'system',
          credentialId: 'aws-prod',
        },
      ],
      verify: { ecr: { region: 'us-east-1' } },
    },
  ],
};

function fakeIo(env: NodeJS.ProcessEnv = {}): CliIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    errIsTTY: false,
    env,
    cwd: dir,
    stdin: Readable.from([]),
    stdout: () => out,
    stderr: () => err,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'key-rotator-cli-'));
  await writeFile(join(dir, 'valid.json'), JSON.stringify(VALID));
  const bad = structuredClone(VALID) as { keys: Record<string, unknown>[] };
  const k = bad.keys[0]!;
  k['iamUser'] = 'not a user!';
  (k['jenkins'] as Record<string, unknown>[])[0]!['url'] = 'ftp://jenkins';
  await writeFile(join(dir, 'invalid.json'), JSON.stringify(bad));
  await writeFile(join(dir, 'broken.json'), '{ "version": 1,');
  // A stack definition as serverless.yml has it: CloudFormation tags, variables, per-stage parameters.
  await writeFile(
    join(dir, 'serverless.yml'),
    [
      'service: test',
      'params:',
      '  default:',
      '    userPath: /jenkins/',
      '    secretPrefix: jenkins/',
      '    tokenSecretPrefix: key-rotator/',
      '    configFile: valid.json',
      "    notifyTopicArn: ${file(./${param:configFile}):notifications.snsTopicArn, ''}",
      '  prod:',
      '    secretPrefix: prod/',
      '  broken:',
      '    configFile: broken.json',
      'custom:',
      "  topic: !If [CreateTopic, !Ref Topic, '${param:notifyTopicArn}']",
      '  arn: !GetAtt Fn.Arn',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('runCli exit codes and output', () => {
  it('--help and --version: 0, on stdout, the exit codes documented', async () => {
    const io = fakeIo();
    expect(await runCli(['--help'], io)).toBe(EXIT.ok);
    expect(io.stdout()).toMatch(/Exit codes:\n\s+0 .*\n\s+1 .*\n\s+2 .*usage/);
    expect(io.stderr()).toBe('');
    const v = fakeIo();
    expect(await runCli(['--version'], v)).toBe(EXIT.ok);
    expect(v.stdout()).toMatch(/^\d+\.\d+\.\d+\n$/);
    const r = fakeIo();
    expect(await runCli(['rotate', '--help'], r)).toBe(EXIT.ok);
    expect(r.stdout()).toMatch(/Usage: key-rotator rotate <user>/);
  });

  it('usage errors: exit 2, one error line on stderr that points to the help, nothing on stdout', async () => {
    for (const argv of [
      [],
      ['nope'],
      ['audit', '--nope'],
      ['rotate'],
      ['plan', 'x'],
      ['audit', '--emergency'],
    ]) {
      const io = fakeIo();
      expect(await runCli(argv, io), argv.join(' ')).toBe(EXIT.usage);
      expect(io.stdout()).toBe('');
      const lines = io.stderr().trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^key-rotator: error: .*--help/);
    }
  });

  it('validate-config: OK with a summary, exit 0', async () => {
    const io = fakeIo();
    expect(await runCli(['validate-config', 'valid.json'], io)).toBe(EXIT.ok);
    expect(io.stdout()).toMatch(/^OK: .*valid\.json: 1 managed key, 1 Jenkins credential\n/);
    expect(io.stdout()).toMatch(
      /prod-ecr-push: IAM user jenkins-prod, secret jenkins\/prod\/aws-key, rotated at 90 days/,
    );
    expect(io.stderr()).toBe('');
  });

  it('validate-config: the file from --config, then KEY_ROTATOR_CONFIG, then ./rotator.config.json', async () => {
    expect(await runCli(['validate-config', '--config', 'valid.json'], fakeIo())).toBe(EXIT.ok);
    expect(await runCli(['validate-config'], fakeIo({ KEY_ROTATOR_CONFIG: 'valid.json' }))).toBe(EXIT.ok);
    const io = fakeIo();
    expect(await runCli(['validate-config'], io)).toBe(EXIT.failed);
    expect(io.stdout()).toContain(join(dir, 'rotator.config.json'));
    expect(io.stdout()).toMatch(/\(file\): file not found/);
  });

  it('validate-config: every issue with its path, exit 1', async () => {
    const io = fakeIo();
    expect(await runCli(['validate-config', 'invalid.json'], io)).toBe(EXIT.failed);
    expect(io.stdout()).toMatch(/^INVALID: .*invalid\.json \(2 issues\)/);
    expect(io.stdout()).toMatch(/keys\[0\]\.iamUser: must be an IAM user name/);
    expect(io.stdout()).toMatch(/keys\[0\]\.jenkins\[0\]\.url: must be an absolute http\(s\) URL/);
    expect(io.stderr()).toMatch(
      /^key-rotator: error: .*invalid\.json is not a valid configuration \(2 issues\)\n$/,
    );
    const broken = fakeIo();
    expect(await runCli(['validate-config', 'broken.json'], broken)).toBe(EXIT.failed);
    expect(broken.stdout()).toMatch(/\(file\): invalid JSON/);
  });

  it('validate-config --json: one document', async () => {
    const ok = fakeIo();
    await runCli(['validate-config', 'valid.json', '--json'], ok);
    expect(JSON.parse(ok.stdout())).toMatchObject({
      valid: true,
      issues: [],
      keys: [
        {
          name: 'prod-ecr-push',
          iamUser: 'jenkins-prod',
          jenkins: [{ store: 'system', credentialId: 'aws-prod' }],
        },
      ],
    });
    const bad = fakeIo();
    expect(await runCli(['validate-config', 'invalid.json', '--json'], bad)).toBe(EXIT.failed);
    const doc = JSON.parse(bad.stdout()) as { valid: boolean; issues: { path: string }[] };
    expect(doc.valid).toBe(false);
    expect(doc.issues.map((i) => i.path).sort()).toEqual(['keys[0].iamUser', 'keys[0].jenkins[0].url']);
  });

  it('validate-config warns about values left from config/example.json: exit 0, listed with their path', async () => {
    const io = fakeIo();
    expect(await runCli(['validate-config', EXAMPLE], io)).toBe(EXIT.ok);
    expect(io.stdout()).toMatch(/^OK: /);
    expect(io.stdout()).toMatch(
      /\nWarnings \(6\):\n {2}notifications\.snsTopicArn: arn:aws:sns:us-east-1:111122223333:/,
    );
    expect(io.stdout()).toMatch(
      /^ {2}keys\[1\]\.assumeRoleArn: the role's account 444455556666 is config\/example\.json's/m,
    );
    expect(io.stdout()).toMatch(
      /^ {2}keys\[1\]\.jenkins\[1\]\.url: https:\/\/legacy-ci\.example\.com\/jenkins is a placeholder/m,
    );
    expect(io.stderr()).toBe(
      `key-rotator: warning: ${EXAMPLE}: 6 placeholders left (listed under warnings)\n`,
    );
    const doc = fakeIo();
    expect(await runCli(['validate-config', EXAMPLE, '--json'], doc)).toBe(EXIT.ok);
    const result = JSON.parse(doc.stdout()) as { valid: boolean; warnings: { path: string }[]; stack: null };
    expect(result).toMatchObject({ valid: true, stack: null, iam: null });
    expect(result.warnings.map((w) => w.path)).toContain('keys[1].verify.ecr.registryId');
  });

  it("validate-config --stage: the stage's configFile and parameters from ./serverless.yml", async () => {
    const dev = fakeIo();
    expect(await runCli(['validate-config', '--stage', 'dev'], dev)).toBe(EXIT.ok);
    expect(dev.stdout()).toMatch(/^OK: .*valid\.json: 1 managed key/);
    expect(dev.stdout()).toContain(
      "Checked against stage dev: userPath=/jenkins/, secretPrefix=jenkins/, tokenSecretPrefix=key-rotator/ (users' paths: --check-iam)\n  not checked: notifyTopicArn (serverless variables",
    );
    expect(dev.stderr()).toBe('');

    const prod = fakeIo();
    expect(await runCli(['validate-config', '--stage', 'prod'], prod)).toBe(EXIT.failed);
    expect(prod.stdout()).toMatch(
      /^INVALID: .*valid\.json \(1 issue\)\n {2}keys\[0\]\.secretId: secret "jenkins\/prod\/aws-key" is not under the stack's secretPrefix "prod\/"/,
    );
    expect(prod.stderr()).toMatch(
      /^key-rotator: error: .*valid\.json is not a valid configuration for stage prod \(1 issue\)\n$/,
    );
    // --param wins over the stage, as with serverless deploy.
    expect(
      await runCli(['validate-config', '--stage', 'prod', '--param', 'secretPrefix=jenkins/prod/'], fakeIo()),
    ).toBe(EXIT.ok);
    // A file named on the command line wins over the stage's configFile.
    const broken = fakeIo();
    expect(await runCli(['validate-config', '--stage', 'broken'], broken)).toBe(EXIT.failed);
    expect(broken.stdout()).toMatch(
      /broken\.json \(1 issue\)\n {2}\(file\): invalid JSON at line 1, column 16: /,
    );
    expect(await runCli(['validate-config', 'valid.json', '--stage', 'broken'], fakeIo())).toBe(EXIT.ok);
  });

  it('validate-config --param alone, and --stage without a serverless.yml', async () => {
    const io = fakeIo();
    expect(
      await runCli(['validate-config', 'valid.json', '--param', 'tokenSecretPrefix=ci/', '--json'], io),
    ).toBe(EXIT.failed);
    expect(JSON.parse(io.stdout())).toMatchObject({
      valid: false,
      stack: { stage: null, params: { tokenSecretPrefix: 'ci/' }, unresolved: [] },
      issues: [
        {
          path: 'keys[0].jenkins[0].tokenSecretId',
          message: expect.stringMatching(/tokenSecretPrefix "ci\/"/) as unknown,
        },
      ],
    });
    const elsewhere = await mkdtemp(join(tmpdir(), 'key-rotator-cli-nosls-'));
    try {
      const none = { ...fakeIo(), cwd: elsewhere };
      expect(await runCli(['validate-config', join(dir, 'valid.json'), '--stage', 'prod'], none)).toBe(
        EXIT.failed,
      );
      expect(none.stderr()).toMatch(
        /^key-rotator: error: --stage reads the stage's parameters from serverless\.yml, and there is none in /,
      );
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('an invalid configuration stops a command before any AWS call: one line, details with --verbose', async () => {
    const io = fakeIo();
    expect(await runCli(['plan', '--config', 'invalid.json', '--endpoint', 'http://127.0.0.1:9'], io)).toBe(
      EXIT.failed,
    );
    const lines = io.stderr().trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^key-rotator: error: invalid configuration in .*invalid\.json: keys\[0\]\.\w+.*\(and 1 more; run key-rotator validate-config\)$/,
    );
    expect(lines.slice(1)).toEqual(['(--verbose shows the details)']);
    const verbose = fakeIo();
    expect(await runCli(['plan', '--config', 'invalid.json', '-v'], verbose)).toBe(EXIT.failed);
    expect(verbose.stderr()).toMatch(/ConfigError: Invalid key-rotator configuration[\s\S]*\n\s+at /);
    expect(verbose.stderr()).toMatch(/keys\[0\]\.jenkins\[0\]\.url: /);
  });

  it('a named configuration that does not exist is an error for audit too', async () => {
    const io = fakeIo();
    expect(await runCli(['audit', '--config', 'missing.json'], io)).toBe(EXIT.failed);
    expect(io.stderr()).toMatch(
      /^key-rotator: error: invalid configuration in .*missing\.json: file not found\n/,
    );
  });

  it('rotate names a user the configuration does not manage: exit 1, says which are', async () => {
    const io = fakeIo({ AWS_REGION: 'us-east-1' });
    // The endpoint is never called: the user is checked against the configuration first.
    expect(
      await runCli(
        ['rotate', 'jenkins-qa', '--config', 'valid.json', '--endpoint', 'http://127.0.0.1:9'],
        io,
      ),
    ).toBe(EXIT.failed);
    expect(io.stderr()).toMatch(
      /"jenkins-qa" is not a managed IAM user or key name in the configuration \(managed: jenkins-prod \(prod-ecr-push\)\)/,
    );
  });
});

describe('describeError: one line a human understands', () => {
  const named = (name: string, message: string, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(message), { name }, extra);

  it('maps the common failures', () => {
    expect(
      describeError(named('CredentialsProviderError', 'Could not load credentials from any providers')),
    ).toMatch(/^no AWS credentials found .*AWS_PROFILE.*--sandbox$/);
    expect(
      describeError(named('InvalidClientTokenId', 'The security token included in the request is invalid.')),
    ).toMatch(/^AWS rejected the credentials \(InvalidClientTokenId: /);
    expect(describeError(named('AccessDeniedException', 'not authorized to perform: iam:ListUsers'))).toBe(
      'AWS denied access (AccessDeniedException): not authorized to perform: iam:ListUsers',
    );
    expect(
      describeError(named('Error', 'connect ECONNREFUSED 127.0.0.1:9', { code: 'ECONNREFUSED' }), {
        endpoint: 'http://127.0.0.1:9',
      }),
    ).toBe('cannot reach http://127.0.0.1:9 (ECONNREFUSED): is the endpoint (local cloud) running?');
    expect(
      describeError(named('ResourceNotFoundException', "Secrets Manager can't find the specified secret.")),
    ).toBe("ResourceNotFoundException: Secrets Manager can't find the specified secret.");
  });

  it('is one line, and never shows a secret-shaped value', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const line = describeError(new Error(`first line with ${secret}\nsecond line`));
    expect(line).not.toContain('\n');
    expect(line).not.toContain(secret);
    expect(line).toBe('first line with [redacted]');
    const c = new ConfigError([{ path: 'keys[0].name', message: 'required' }], { source: '/x.json' });
    expect(describeError(c)).toBe('invalid configuration in /x.json: keys[0].name: required');
    expect(errorDetails(new Error(`boom ${secret}`, { cause: new Error('inner') }))).toMatch(
      /^Error: boom \[redacted\]\n\s+at [\s\S]*caused by: Error: inner/,
    );
  });
});
