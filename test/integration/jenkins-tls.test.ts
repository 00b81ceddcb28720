import { X509Certificate } from 'node:crypto';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startAwsEmulator } from '../../localcloud/aws/server';
import { waitForRotations } from '../../localcloud/aws/secretsmanager';
import { startLocalCloud, type LocalCloud } from '../../localcloud/index';
import { startJenkinsEmulator, type JenkinsEmulator } from '../../localcloud/jenkins/server';
import { seedScenario, type ScenarioKey } from '../../localcloud/scenario';
import { cachedSecretReader } from '../../src/aws/secret-reader';
import { JenkinsClients, type JenkinsTargetSpec } from '../../src/jenkins-target';
import { JenkinsClient } from '../../src/jenkins';
import { captureOutput, leakedSecrets, rememberSecrets, type Capture } from '../support/capture';
import { jenkinsCredential, jenkinsFailure } from '../support/jenkins';
import { ROTATE_LAMBDA_ARN, wireRotator } from '../support/rotator';
import { makeTestPki } from '../support/tls';

/**
 * The Jenkins client over HTTPS, against the Jenkins emulator serving certificates from a CA made by the test:
 * trusted with that CA configured (inline or from a secret), refused with a message that says what failed and
 * how to fix it without it, on a name mismatch, and on an expired certificate; then whole rotations through the
 * real hook.
 */

const pki = makeTestPki();
const TOKEN = `11${'a1'.repeat(16)}`;
const CRED = { kind: 'system' as const, id: 'aws-tls' };
const OLD_KEY_ID = 'AKIAOLDTLSKEY0000001';

/** An HTTPS Jenkins emulator serving `cert`, seeded with the rotator's user and one AWS credential. */
async function httpsJenkins(
  cert: { key: string; cert: string },
  hostname?: string,
): Promise<JenkinsEmulator> {
  const emu = await startJenkinsEmulator({ tls: { ...cert, ...(hostname ? { hostname } : {}) } });
  emu.state.seed({
    users: [{ id: 'rotator', apiTokens: [TOKEN] }],
    credentials: [
      {
        store: 'system',
        kind: 'aws',
        id: CRED.id,
        accessKey: OLD_KEY_ID,
        secretKey: 'old-secret-synthetic',
      },
    ],
  });
  return emu;
}

const client = (url: string, caCertificates?: string[]) =>
  new JenkinsClient({
    baseUrl: url,
    auth: { username: 'rotator', apiToken: TOKEN },
    timeoutMs: 5000,
    retries: 0,
    ...(caCertificates ? { caCertificates } : {}),
  });

const validTo = (pem: string) => new Date(new X509Certificate(pem).validTo).toISOString();

describe('the Jenkins client over HTTPS with a private CA', () => {
  let good: JenkinsEmulator;
  let localhostName: JenkinsEmulator;
  let wrongName: JenkinsEmulator;
  let expired: JenkinsEmulator;
  let plain: JenkinsEmulator;

  beforeAll(async () => {
    [good, localhostName, wrongName, expired, plain] = await Promise.all([
      httpsJenkins(pki.good),
      httpsJenkins(pki.good, 'localhost'),
      httpsJenkins(pki.wrongName),
      httpsJenkins(pki.expired),
      startJenkinsEmulator(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([good, localhostName, wrongName, expired, plain].map((e) => e.close()));
  });

  it('serves HTTPS: the emulator URL is https and presents the certificate for 127.0.0.1', () => {
    expect(good.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(localhostName.url).toMatch(/^https:\/\/localhost:\d+$/);
  });

  it('trusts the server with the test CA configured inline (by IP and by name)', async () => {
    expect(await client(good.url, [pki.ca.cert]).readAccessKeyId(CRED, CRED.id)).toBe(OLD_KEY_ID);
    expect(await client(localhostName.url, [pki.ca.cert]).readAccessKeyId(CRED, CRED.id)).toBe(OLD_KEY_ID);
    // The write path too: the whole update goes through the same agent.
    await client(good.url, [pki.ca.cert]).putKey(CRED, CRED.id, {
      accessKeyId: 'AKIANEWTLSKEY0000002',
      secretAccessKey: 'new-secret-synthetic',
    });
    expect(good.state.credentialView('system', CRED.id)?.fields['accessKey']).toBe('AKIANEWTLSKEY0000002');
  });

  it('trusts the server with the test CA read from a secret (once), next to another CA inline', async () => {
    // The secrets come from the AWS emulator's Secrets Manager, through the rotator's cached reader.
    const aws = await startAwsEmulator();
    onTestFinished(() => aws.close());
    const sm = new SecretsManagerClient(aws.adminClientConfig());
    await sm.send(new CreateSecretCommand({ Name: 'key-rotator/jenkins-ca', SecretString: pki.ca.cert }));
    await sm.send(new CreateSecretCommand({ Name: 'key-rotator/jenkins-token', SecretString: TOKEN }));
    const reads = () => aws.state.callLog.filter((c) => c.action === 'GetSecretValue').length;
    const clients = new JenkinsClients(cachedSecretReader(sm));
    const spec: JenkinsTargetSpec = {
      name: 'jenkins-0',
      url: good.url,
      user: 'rotator',
      tokenSecretId: 'key-rotator/jenkins-token',
      authType: 'apiToken',
      store: { kind: 'system' },
      credentialId: CRED.id,
      credentialKind: 'aws',
      createIfMissing: false,
      caCertificates: { pem: pki.other.cert, secretId: 'key-rotator/jenkins-ca' },
    };
    const fingerprints = (pems: string[]) => pems.map((p) => new X509Certificate(p).fingerprint256);
    expect(fingerprints(await clients.caCertificates(spec))).toEqual(
      fingerprints([pki.other.cert, pki.ca.cert]),
    );
    const c = await clients.client(spec, 5);
    expect(await c.readAccessKeyId(CRED, CRED.id)).toMatch(/^AKIA/);
    await clients.client(spec, 5);
    expect(reads()).toBe(2); // the token and the CA, each once
  });

  it('refuses the server without the CA: names the certificate, its issuer, the cause and the fix; sends nothing', async () => {
    good.state.requests.length = 0;
    const e = await jenkinsFailure(client(good.url).readAccessKeyId(CRED, CRED.id));
    expect(e.reason).toBe('tls');
    expect(e.retryable).toBe(false);
    const port = new URL(good.url).port;
    expect(e.message).toContain(`TLS: the certificate of 127.0.0.1:${port} (CN=localhost, issued by`);
    expect(e.message).toContain('O=key-rotator tests');
    expect(e.message).toContain(
      'signed by an unknown CA: no public CA vouches for it, and no keys[].jenkins[].caCertificates are configured (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
    );
    expect(e.message).toContain(
      'Fix: add the root certificate of the CA that issued it (key-rotator test CA) as PEM to keys[].jenkins[].caCertificates (pem, or secretId of a secret holding it)',
    );
    expect(e.message).toContain('Verification cannot be turned off');
    expect(e.message).not.toContain(TOKEN);
    // Neither the refused connection nor the inspection that named the certificate sent a request.
    expect(good.state.requests).toEqual([]);
  });

  it('refuses the server when only another CA is configured, and says the configured one does not vouch', async () => {
    const e = await jenkinsFailure(client(good.url, [pki.other.cert]).readAccessKeyId(CRED, CRED.id));
    expect(e.reason).toBe('tls');
    expect(e.message).toContain(
      'neither the public CAs nor the 1 certificate(s) in keys[].jenkins[].caCertificates vouch for it',
    );
  });

  it('refuses a certificate for another name: says which names it carries and what to do', async () => {
    const e = await jenkinsFailure(client(wrongName.url, [pki.ca.cert]).readAccessKeyId(CRED, CRED.id));
    expect(e.reason).toBe('tls');
    const port = new URL(wrongName.url).port;
    expect(e.message).toContain(
      `TLS: the certificate of 127.0.0.1:${port} is for jenkins.wrong-name.test, not 127.0.0.1 (ERR_TLS_CERT_ALTNAME_INVALID)`,
    );
    expect(e.message).toContain(
      'Fix: use a URL with a name the certificate carries (jenkins.wrong-name.test)',
    );
  });

  it('refuses an expired certificate: says when it expired and to renew it', async () => {
    const e = await jenkinsFailure(client(expired.url, [pki.ca.cert]).readAccessKeyId(CRED, CRED.id));
    expect(e.reason).toBe('tls');
    expect(e.message).toContain(`(CN=localhost) expired on ${validTo(pki.expired.cert)} (CERT_HAS_EXPIRED)`);
    expect(e.message).toContain('Fix: renew it');
  });

  it('says so when an https URL points at a plain-http port', async () => {
    const url = plain.url.replace('http:', 'https:');
    const e = await jenkinsFailure(client(url, [pki.ca.cert]).readAccessKeyId(CRED, CRED.id));
    expect(e.reason).toBe('tls');
    expect(e.message).toMatch(/no TLS handshake with 127\.0\.0\.1:\d+ \(\w+\): the port may not speak HTTPS/);
  });
});

describe('a rotation through the real hook against HTTPS Jenkins behind the test CA', () => {
  const KEYS: ScenarioKey[] = [
    {
      name: 'prod-ecr-push',
      iamUser: 'jenkins-prod',
      ageDays: 120,
      secretName: 'jenkins/prod/aws-key',
      credentials: [
        { store: 'system', credentialId: 'aws-prod', kind: 'aws' },
        { store: { folder: 'team-a' }, credentialId: 'aws-prod-userpass', kind: 'usernamePassword' },
      ],
      canary: true,
    },
  ];
  const SECRET = 'jenkins/prod/aws-key';
  let cloud: LocalCloud;
  let sm: SecretsManagerClient;
  let config: Awaited<ReturnType<typeof seedScenario>>['config'];
  let capture: Capture;
  const seen = new Set<string>();

  const current = async () =>
    JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: SECRET }))).SecretString ?? '{}') as {
      accessKeyId: string;
    };

  /** The configuration with every Jenkins target trusting `ca` (undefined: nothing configured). */
  const withCa = (ca: Record<string, string> | undefined) => ({
    ...config,
    keys: config.keys.map((k) => ({
      ...k,
      jenkins: k.jenkins.map((t) => ({ ...t, ...(ca ? { caCertificates: ca } : {}) })),
    })),
  });

  async function rotate() {
    await sm.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: ROTATE_LAMBDA_ARN }));
    await waitForRotations(cloud.aws.state, 60_000);
    rememberSecrets(cloud, seen);
    return cloud.aws.state.rotations.at(-1);
  }

  /** Secrets Manager's retry of a failed rotation: the four steps again, with the same token. */
  async function retry(wired: ReturnType<typeof wireRotator>, token: string) {
    const arn = (await sm.send(new DescribeSecretCommand({ SecretId: SECRET }))).ARN;
    for (const Step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'])
      await wired.invoke({ Step, SecretId: arn, ClientRequestToken: token });
    rememberSecrets(cloud, seen);
  }
  let failedToken = '';

  beforeAll(async () => {
    capture = captureOutput();
    cloud = await startLocalCloud({ aws: { propagationDelayMs: 200 }, jenkins: { tls: pki.good } });
    ({ config } = await seedScenario(cloud, KEYS));
    sm = new SecretsManagerClient(cloud.aws.adminClientConfig('us-east-1'));
    await sm.send(new CreateSecretCommand({ Name: 'key-rotator/jenkins-ca', SecretString: pki.ca.cert }));
    rememberSecrets(cloud, seen);
  });
  afterAll(async () => {
    capture.stop();
    sm.destroy();
    await cloud.close();
  });

  it('without the CA: fails at setSecret with the certificate message, and changes nothing in Jenkins', async () => {
    const before = await current();
    wireRotator(cloud, withCa(undefined));
    const run = await rotate();
    expect(run?.status).toBe('failed');
    failedToken = run?.token ?? '';
    const failed = run?.steps.find((s) => !s.ok);
    expect(failed?.step).toBe('setSecret');
    expect(failed?.error).toMatch(
      /TLS: the certificate of 127\.0\.0\.1:\d+ \(CN=localhost, issued by CN=key-rotator test CA, O=key-rotator tests\) is signed by an unknown CA/,
    );
    expect(failed?.error).toContain('keys[].jenkins[].caCertificates');
    expect((await current()).accessKeyId).toBe(before.accessKeyId);
    expect((await jenkinsCredential(cloud, 'system', 'aws-prod'))['accessKey']).toBe(before.accessKeyId);
    // No Jenkins request got through: the token never left over an unverified connection.
    expect(cloud.jenkins.state.requests).toEqual([]);
  });

  it('with the CA from a secret: the retried rotation succeeds, canary job included, over HTTPS', async () => {
    const before = await current();
    await retry(wireRotator(cloud, withCa({ secretId: 'key-rotator/jenkins-ca' })), failedToken);
    const now = await current();
    expect(now.accessKeyId).not.toBe(before.accessKeyId);
    expect((await jenkinsCredential(cloud, 'system', 'aws-prod'))['accessKey']).toBe(now.accessKeyId);
    expect((await jenkinsCredential(cloud, { folder: 'team-a' }, 'aws-prod-userpass'))['username']).toBe(
      now.accessKeyId,
    );
    const paths = cloud.jenkins.state.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths).toContain('POST /job/ecr-canary-prod-ecr-push/buildWithParameters');
  });

  it('with the CA inline: the next rotation succeeds too', async () => {
    const before = await current();
    wireRotator(cloud, withCa({ pem: pki.ca.cert }));
    const run = await rotate();
    expect(run?.status).toBe('succeeded');
    expect((await current()).accessKeyId).not.toBe(before.accessKeyId);
    const d = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
    expect(Object.values(d.VersionIdsToStages ?? {}).flat()).not.toContain('AWSPENDING');
  });

  it('logged no secret', () => {
    seen.add(TOKEN);
    expect(leakedSecrets(capture.text(), seen)).toBe(0);
  });
});
