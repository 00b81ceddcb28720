import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/**
 * A throwaway PKI for tests: a CA and server certificates it signs, made in-process (node-forge builds and signs
 * the X.509 documents; the RSA keys come from node:crypto), so no openssl binary is needed.
 */

export interface TestKeyPair {
  /** PEM, PKCS#1. */
  key: string;
  forgeKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
}

export interface TestCa {
  /** The CA certificate, PEM. */
  cert: string;
  name: string;
  keys: TestKeyPair;
  forgeCert: forge.pki.Certificate;
}

export interface ServerCert {
  /** The server's private key, PEM (for the HTTPS server only). */
  key: string;
  /** The server certificate, PEM; with `chain`, followed by nothing else (the server sends what it is given). */
  cert: string;
}

const DAY = 86_400_000;

function keyPair(bits = 2048): TestKeyPair {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const forgeKey = forge.pki.privateKeyFromPem(privateKey);
  return {
    key: privateKey,
    forgeKey,
    publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e),
  };
}

const serial = () => `01${randomBytes(8).toString('hex')}`;

/**
 * A self-signed CA (basicConstraints CA:true, keyCertSign), valid from yesterday for a year unless told. `bits`:
 * the RSA key size (1024 is quick to make, for certificates that are only parsed, never used in a handshake).
 */
export function makeCa(
  name = 'key-rotator test CA',
  validity: { from?: Date; to?: Date } = {},
  bits = 2048,
): TestCa {
  const keys = keyPair(bits);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = validity.from ?? new Date(Date.now() - DAY);
  cert.validity.notAfter = validity.to ?? new Date(Date.now() + 365 * DAY);
  const attrs = [
    { name: 'commonName', value: name },
    { name: 'organizationName', value: 'key-rotator tests' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.forgeKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), name, keys, forgeCert: cert };
}

/**
 * A server certificate signed by `ca` for the given DNS names and IP addresses (subjectAltName), valid from
 * yesterday for 90 days unless told (`to` in the past makes an expired one).
 */
export function issueServerCert(
  ca: TestCa,
  names: { dns?: string[]; ip?: string[] },
  validity: { from?: Date; to?: Date } = {},
): ServerCert {
  const keys = keyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = validity.from ?? new Date(Date.now() - DAY);
  cert.validity.notAfter = validity.to ?? new Date(Date.now() + 90 * DAY);
  const cn = names.dns?.[0] ?? names.ip?.[0] ?? 'server';
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer(ca.forgeCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...(names.dns ?? []).map((value) => ({ type: 2, value })),
        ...(names.ip ?? []).map((ip) => ({ type: 7, ip })),
      ],
    },
  ]);
  cert.sign(ca.keys.forgeKey, forge.md.sha256.create());
  return { key: keys.key, cert: forge.pki.certificateToPem(cert) };
}

/** The usual test set: one CA, and certificates for 127.0.0.1/localhost, for a wrong name, and an expired one. */
export function makeTestPki() {
  const ca = makeCa();
  const local = { dns: ['localhost'], ip: ['127.0.0.1'] };
  return {
    ca,
    /** For 127.0.0.1 and localhost. */
    good: issueServerCert(ca, local),
    /** For jenkins.wrong-name.test only. */
    wrongName: issueServerCert(ca, { dns: ['jenkins.wrong-name.test'] }),
    /** For 127.0.0.1 and localhost, expired yesterday. */
    expired: issueServerCert(ca, local, {
      from: new Date(Date.now() - 30 * DAY),
      to: new Date(Date.now() - DAY),
    }),
    /** Another CA nobody trusts. */
    other: makeCa('another test CA'),
  };
}
