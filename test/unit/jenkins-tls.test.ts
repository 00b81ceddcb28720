import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config';
import { stackIssues } from '../../src/config/stack';
import { findSecretInText } from '../../src/domain/secret-text';
import {
  CaCertificateError,
  describeTlsFailure,
  inspectionFailure,
  isTlsErrorCode,
  parseCaCertificates,
  summarizePems,
  tlsFailureKind,
  trustedCas,
  type CertificateSummary,
  type TlsInspection,
} from '../../src/jenkins/tls';
import { extractCaCertificates } from '../../src/jenkins-target';
import { rawKey } from '../support/config-fixture';
import { makeCa } from '../support/tls';

const ca = makeCa('Corp Root CA');
const other = makeCa('Other CA');
const privateKey = generateKeyPairSync('ec', {
  namedCurve: 'P-256',
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
}).privateKey;
const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

function caError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CaCertificateError);
    return (e as Error).message;
  }
  throw new Error('expected a CaCertificateError');
}

describe('parseCaCertificates', () => {
  it('reads one certificate, or a bundle with comments between the blocks, in order', () => {
    expect(parseCaCertificates(ca.cert, 'x').map(fingerprint)).toEqual([fingerprint(ca.cert)]);
    const bundle = `# Corp Root CA\n${ca.cert}\n# Other\r\n${other.cert.replace(/\n/g, '\r\n')}`;
    expect(parseCaCertificates(bundle, 'x').map(fingerprint)).toEqual([
      fingerprint(ca.cert),
      fingerprint(other.cert),
    ]);
  });

  it('refuses a private key, even next to a certificate, naming the block and never echoing it', () => {
    const m = caError(() =>
      parseCaCertificates(`${ca.cert}${privateKey}`, 'keys[0].jenkins[0].caCertificates.pem'),
    );
    expect(m).toBe(
      "keys[0].jenkins[0].caCertificates.pem: PEM block 2 is a private key (PRIVATE KEY): only the CA's certificate belongs here, never a key; remove the key (and treat it as exposed if it was shared)",
    );
    expect(m).not.toContain(privateKey.split('\n')[1]);
    expect(
      caError(() => parseCaCertificates(privateKey.replace(/PRIVATE KEY/g, 'EC PRIVATE KEY'), 'x')),
    ).toMatch(/PEM block 1 is a private key \(EC PRIVATE KEY\)/);
  });

  it('refuses other PEM blocks, broken base64, non-X.509 content and text without a certificate', () => {
    expect(
      caError(() => parseCaCertificates(ca.cert.replace(/CERTIFICATE/g, 'CERTIFICATE REQUEST'), 'x')),
    ).toBe('x: PEM block 1 is a "CERTIFICATE REQUEST", not a CERTIFICATE (-----BEGIN CERTIFICATE-----)');
    const lines = ca.cert.split('\n');
    lines[2] = `${lines[2]?.slice(0, 10)}!!${lines[2]?.slice(12)}`;
    expect(caError(() => parseCaCertificates(lines.join('\n'), 'x'))).toBe(
      'x: certificate 1 is not valid base64 between its PEM lines',
    );
    const junk = `-----BEGIN CERTIFICATE-----\n${Buffer.from('not a certificate at all').toString('base64')}\n-----END CERTIFICATE-----\n`;
    expect(caError(() => parseCaCertificates(junk, 'x'))).toBe(
      'x: certificate 1 does not parse as an X.509 certificate',
    );
    expect(caError(() => parseCaCertificates('https://ca.example.com/root.crt', 'x'))).toBe(
      'x: holds no PEM certificate (expected one or more -----BEGIN CERTIFICATE----- blocks)',
    );
  });

  it('reads a CA secret the same way, and names the secret when it is empty or wrong', () => {
    expect(extractCaCertificates(ca.cert, 'key-rotator/ca').map(fingerprint)).toEqual([fingerprint(ca.cert)]);
    expect(caError(() => extractCaCertificates('  ', 'key-rotator/ca'))).toBe(
      'CA certificate secret key-rotator/ca is empty',
    );
    expect(caError(() => extractCaCertificates(privateKey, 'key-rotator/ca'))).toMatch(
      /^CA certificate secret key-rotator\/ca: PEM block 1 is a private key/,
    );
  });

  it('summarises certificates: subject, issuer, dates, CA flag', () => {
    const [s] = summarizePems([ca.cert]);
    expect(s).toMatchObject({
      subject: 'CN=Corp Root CA, O=key-rotator tests',
      issuer: 'CN=Corp Root CA, O=key-rotator tests',
      ca: true,
      selfIssued: true,
    });
    expect(s?.validTo).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});

describe('trustedCas', () => {
  it("keeps Node's default store when nothing is added, and adds to the public roots otherwise", () => {
    expect(trustedCas([])).toBeUndefined();
    const list = trustedCas([ca.cert]) ?? [];
    expect(list.at(-1)).toBe(ca.cert);
    for (const root of rootCertificates.slice(0, 5)) expect(list).toContain(root);
    expect(list.length).toBeGreaterThan(rootCertificates.length);
  });
});

describe('TLS error classification', () => {
  it('tells TLS failures from network ones', () => {
    for (const code of [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'ERR_TLS_CERT_ALTNAME_INVALID',
      'CERT_HAS_EXPIRED',
      'CERT_NOT_YET_VALID',
      'ERR_SSL_WRONG_VERSION_NUMBER',
      'EPROTO',
    ])
      expect(isTlsErrorCode(code), code).toBe(true);
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', undefined])
      expect(isTlsErrorCode(code), code).toBe(false);
    expect(tlsFailureKind('SELF_SIGNED_CERT_IN_CHAIN')).toBe('unknown-ca');
    expect(tlsFailureKind('ERR_TLS_CERT_ALTNAME_INVALID')).toBe('name-mismatch');
    expect(tlsFailureKind('CERT_HAS_EXPIRED')).toBe('expired');
    expect(tlsFailureKind('CERT_NOT_YET_VALID')).toBe('not-yet-valid');
    expect(tlsFailureKind('CERT_REVOKED')).toBe('refused');
    expect(tlsFailureKind('ERR_SSL_WRONG_VERSION_NUMBER')).toBe('handshake');
  });

  const cert = (over: Partial<CertificateSummary> = {}): CertificateSummary => ({
    subject: 'CN=jenkins.corp.example',
    issuer: 'CN=Corp Issuing CA 2',
    validFrom: '2026-01-01T00:00:00.000Z',
    validTo: '2027-01-01T00:00:00.000Z',
    subjectAltName: 'DNS:jenkins.corp.example, DNS:ci.corp.example, IP Address:10.0.0.5',
    ca: false,
    selfIssued: false,
    fingerprint256: 'AA',
    ...over,
  });
  const intermediate = cert({
    subject: 'CN=Corp Issuing CA 2',
    issuer: 'CN=Corp Root CA',
    ca: true,
    validTo: '2026-06-01T00:00:00.000Z',
  });
  delete (intermediate as { subjectAltName?: string }).subjectAltName;
  const inspection = (chain: CertificateSummary[], over: Partial<TlsInspection> = {}): TlsInspection => ({
    chain,
    chainVerified: false,
    ...over,
  });
  const describe_ = (
    code: string,
    chain: CertificateSummary[] = [],
    configuredCas = 0,
    now = new Date('2026-09-01'),
  ) =>
    describeTlsFailure({
      code,
      host: 'jenkins.corp.example',
      port: 443,
      inspection: inspection(chain),
      configuredCas,
      now,
    });

  it('an unknown CA: names the certificate, its issuer, the root to add and where', () => {
    const d = describe_('UNABLE_TO_GET_ISSUER_CERT_LOCALLY', [cert(), intermediate]);
    expect(d.kind).toBe('unknown-ca');
    expect(d.message).toBe(
      'TLS: the certificate of jenkins.corp.example:443 (CN=jenkins.corp.example, issued by CN=Corp Issuing CA 2) is signed by an unknown CA: no public CA vouches for it, and no keys[].jenkins[].caCertificates are configured (UNABLE_TO_GET_ISSUER_CERT_LOCALLY). Fix: add the root certificate of the CA that issued it (Corp Root CA) as PEM to keys[].jenkins[].caCertificates (pem, or secretId of a secret holding it). Verification cannot be turned off',
    );
    expect(describe_('UNABLE_TO_VERIFY_LEAF_SIGNATURE', [cert()], 2).message).toContain(
      'neither the public CAs nor the 2 certificate(s) in keys[].jenkins[].caCertificates vouch for it',
    );
  });

  it('a self-signed server certificate: says so, and to trust that certificate (or better, a CA)', () => {
    const self = cert({ issuer: 'CN=jenkins.corp.example', selfIssued: true });
    const d = describe_('DEPTH_ZERO_SELF_SIGNED_CERT', [self]);
    expect(d.message).toContain('is self-signed: no public CA vouches for it');
    expect(d.message).toContain(
      'Fix: add that self-signed certificate itself (better: have Jenkins serve one issued by your CA)',
    );
  });

  it('a name mismatch: the names the certificate carries, and the two fixes', () => {
    const d = describeTlsFailure({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
      host: '10.0.0.9',
      port: 8443,
      inspection: inspection([cert()], { chainVerified: true }),
      configuredCas: 1,
    });
    expect(d).toEqual({
      kind: 'name-mismatch',
      message:
        'TLS: the certificate of 10.0.0.9:8443 is for jenkins.corp.example, ci.corp.example, 10.0.0.5, not 10.0.0.9 (ERR_TLS_CERT_ALTNAME_INVALID). Fix: use a URL with a name the certificate carries (jenkins.corp.example, ci.corp.example, 10.0.0.5), or have the certificate reissued with 10.0.0.9 in its subjectAltName',
    });
  });

  it('an expired certificate: which one (the leaf or one of the chain) and when', () => {
    expect(describe_('CERT_HAS_EXPIRED', [cert({ validTo: '2026-08-01T00:00:00.000Z' })]).message).toBe(
      'TLS: the certificate of jenkins.corp.example:443 (CN=jenkins.corp.example) expired on 2026-08-01T00:00:00.000Z (CERT_HAS_EXPIRED). Fix: renew it on Jenkins or on the proxy in front of it',
    );
    expect(describe_('CERT_HAS_EXPIRED', [cert(), intermediate]).message).toContain(
      'TLS: a certificate in the chain of jenkins.corp.example:443 (CN=Corp Issuing CA 2) expired on 2026-06-01T00:00:00.000Z',
    );
  });

  it('not yet valid, a handshake failure, and a code alone (no inspection) still say what to do', () => {
    expect(
      describe_('CERT_NOT_YET_VALID', [cert({ validFrom: '2026-10-01T00:00:00.000Z' })]).message,
    ).toContain('is not valid before 2026-10-01T00:00:00.000Z (CERT_NOT_YET_VALID). Fix: check the server');
    expect(describe_('ERR_SSL_WRONG_VERSION_NUMBER').message).toBe(
      "TLS: no TLS handshake with jenkins.corp.example:443 (ERR_SSL_WRONG_VERSION_NUMBER): the port may not speak HTTPS (plain http, or another service), or the server refuses this client's TLS versions. Fix: check the URL's scheme and port",
    );
    const bare = describeTlsFailure({
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
      host: 'h',
      port: 443,
      configuredCas: 0,
    });
    expect(bare.message).toContain('TLS: the certificate of h:443 is signed by an unknown CA');
    expect(bare.message).toContain('Fix: add the root certificate of the CA that issued it as PEM');
  });

  it('reads an inspection: chain first, then the name', () => {
    expect(inspectionFailure(inspection([cert()], { chainError: 'CERT_HAS_EXPIRED' }))).toBe(
      'CERT_HAS_EXPIRED',
    );
    expect(inspectionFailure(inspection([cert()], { chainVerified: true, nameError: 'x' }))).toBe(
      'ERR_TLS_CERT_ALTNAME_INVALID',
    );
    expect(inspectionFailure(inspection([cert()], { chainVerified: true }))).toBeUndefined();
  });
});

describe('caCertificates in the configuration', () => {
  const withCa = (caCertificates: unknown, url = 'https://jenkins.corp.example') =>
    ({ version: 1, keys: [rawKey({ jenkins: [{ ...rawKey().jenkins[0], url, caCertificates }] })] }) as const;
  const issues = (input: unknown) => {
    try {
      parseConfig(input);
    } catch (e) {
      if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
      throw e;
    }
    return [];
  };

  it('accepts inline PEM (a bundle too) and a secret, and keeps them on the target', () => {
    const config = parseConfig(
      withCa({ pem: `${ca.cert}${other.cert}`, secretId: 'key-rotator/jenkins-ca' }),
    );
    expect(config.keys[0]?.jenkins[0]?.caCertificates).toEqual({
      pem: `${ca.cert}${other.cert}`,
      secretId: 'key-rotator/jenkins-ca',
    });
  });

  it('does not take a certificate for a secret', () => {
    // The base64 lines of a certificate often hold runs the free-text secret detector reads as AWS secret keys
    // (about one line in twelve): the PEM field is checked as certificates instead, which also refuses what would
    // be secret there, a private key. With 24 certificates, some line surely is such a run (all miss: ~1e-9).
    const bundle = Array.from({ length: 24 }, (_, i) => makeCa(`CA ${i}`, {}, 1024).cert).join('');
    expect(bundle.split('\n').some((line) => findSecretInText(line))).toBe(true);
    expect(issues(withCa({ pem: bundle }))).toEqual([]);
  });

  it('refuses a private key, junk, an empty object, unknown fields and an http URL, naming the field', () => {
    expect(issues(withCa({ pem: `${ca.cert}${privateKey}` }))).toEqual([
      "keys[0].jenkins[0].caCertificates.pem: PEM block 2 is a private key (PRIVATE KEY): only the CA's certificate belongs here, never a key; remove the key (and treat it as exposed if it was shared)",
    ]);
    expect(issues(withCa({ pem: 'corp-root.pem' }))).toEqual([
      'keys[0].jenkins[0].caCertificates.pem: holds no PEM certificate (expected one or more -----BEGIN CERTIFICATE----- blocks)',
    ]);
    expect(issues(withCa({}))).toEqual([
      'keys[0].jenkins[0].caCertificates: needs "pem" (PEM text of one or more CA certificates) or "secretId" (a secret holding it), or both',
    ]);
    expect(issues(withCa({ pem: ca.cert, insecure: true }))).toEqual([
      'keys[0].jenkins[0].caCertificates.insecure: unknown field (check the spelling)',
    ]);
    expect(issues(withCa({ secretId: 'https://ca.example.com/root.pem' }))).toEqual([
      'keys[0].jenkins[0].caCertificates.secretId: must be a Secrets Manager secret name or ARN, not a URL: secrets belong in Secrets Manager; store the value there and reference the secret by name or ARN (tokenSecretId, slackWebhookSecretId)',
    ]);
    expect(issues({ ...withCa({ pem: ca.cert }, 'http://127.0.0.1:8080') })).toEqual([
      'keys[0].jenkins[0].caCertificates: only apply to https URLs (url is http://…)',
    ]);
  });

  it('the CA secret must be under the stack tokenSecretPrefix, as the token is', () => {
    const config = parseConfig({
      version: 1,
      keys: [
        rawKey({
          jenkins: [
            {
              ...rawKey().jenkins[0],
              tokenSecretId: 'key-rotator/jenkins-token',
              caCertificates: { secretId: 'corp/ca-bundle' },
            },
          ],
        }),
      ],
    });
    const found = stackIssues(config, {
      params: { userPath: '/jenkins/', secretPrefix: 'jenkins/', tokenSecretPrefix: 'key-rotator/' },
    }).map((i) => `${i.path}: ${i.message}`);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(
      /^keys\[0\]\.jenkins\[0\]\.caCertificates\.secretId: secret "corp\/ca-bundle" is not under the stack's tokenSecretPrefix "key-rotator\/"/,
    );
  });
});
