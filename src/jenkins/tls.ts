import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import * as tls from 'node:tls';

/**
 * TLS for the Jenkins client: extra CA certificates to trust (a company's private CA), the inspection of what a
 * server presents, and certificate errors turned into a message that says what failed and how to fix it.
 * Verification is never turned off: there is no switch for it.
 */

/** Where the extra CA certificates of a Jenkins target are configured, for messages. */
export const CA_FIELD = 'keys[].jenkins[].caCertificates';

export class CaCertificateError extends Error {
  override readonly name = 'CaCertificateError';
}

/** One certificate, as far as a person needs to recognise it. */
export interface CertificateSummary {
  /** `CN=jenkins.example.com, O=Example` */
  subject: string;
  issuer: string;
  /** ISO 8601. */
  validFrom: string;
  validTo: string;
  /** `DNS:jenkins.example.com, IP Address:10.0.0.5`, as X.509 has it; undefined when the certificate has none. */
  subjectAltName?: string;
  /** basicConstraints CA:TRUE. */
  ca: boolean;
  /** Subject and issuer are the same name (a root, or a self-signed server certificate). */
  selfIssued: boolean;
  /** SHA-256 fingerprint, `AB:CD:…`. */
  fingerprint256: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]{1,40})-----([\s\S]*?)-----END ([A-Z0-9 ]{1,40})-----/g;
const MAX_CERTIFICATES = 100;

/** `CN=a\nO=b` (X509Certificate) → `CN=a, O=b`. */
const oneLineName = (name: string): string =>
  name
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .join(', ');

const iso = (date: string): string => {
  const t = Date.parse(date);
  return Number.isFinite(t) ? new Date(t).toISOString() : date;
};

export function summarizeCertificate(cert: X509Certificate): CertificateSummary {
  const subject = oneLineName(cert.subject);
  const issuer = oneLineName(cert.issuer);
  return {
    subject,
    issuer,
    validFrom: iso(cert.validFrom),
    validTo: iso(cert.validTo),
    ...(cert.subjectAltName ? { subjectAltName: cert.subjectAltName } : {}),
    ca: cert.ca,
    selfIssued: subject === issuer,
    fingerprint256: cert.fingerprint256,
  };
}

/**
 * Reads PEM text holding one or more certificates (a CA bundle): returns each certificate as PEM. Refuses, with a
 * message naming `where` and the block, a private key (only the CA's certificate belongs in the configuration),
 * any other PEM block, a block that is not X.509, and text without any certificate. Never echoes the text.
 */
export function parseCaCertificates(text: string, where: string): string[] {
  const pems: string[] = [];
  let n = 0;
  for (const m of text.matchAll(PEM_BLOCK)) {
    n++;
    const [, label = '', body = '', end = ''] = m;
    if (/PRIVATE KEY/.test(label) || /PRIVATE KEY/.test(end))
      throw new CaCertificateError(
        `${where}: PEM block ${n} is a private key (${label}): only the CA's certificate belongs here, never a key; remove the key (and treat it as exposed if it was shared)`,
      );
    if (label !== 'CERTIFICATE' || end !== 'CERTIFICATE')
      throw new CaCertificateError(
        `${where}: PEM block ${n} is a "${label}", not a CERTIFICATE (-----BEGIN CERTIFICATE-----)`,
      );
    const base64 = body.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64))
      throw new CaCertificateError(`${where}: certificate ${n} is not valid base64 between its PEM lines`);
    const pem = `-----BEGIN CERTIFICATE-----\n${(base64.match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`;
    try {
      new X509Certificate(pem);
    } catch {
      throw new CaCertificateError(`${where}: certificate ${n} does not parse as an X.509 certificate`);
    }
    pems.push(pem);
  }
  if (/PRIVATE KEY-----/.test(text))
    throw new CaCertificateError(
      `${where}: holds a private key: only the CA's certificate belongs here, never a key`,
    );
  if (pems.length === 0)
    throw new CaCertificateError(
      `${where}: holds no PEM certificate (expected one or more -----BEGIN CERTIFICATE----- blocks)`,
    );
  if (pems.length > MAX_CERTIFICATES)
    throw new CaCertificateError(`${where}: holds ${pems.length} certificates, at most ${MAX_CERTIFICATES}`);
  return pems;
}

/** Summaries of PEM certificates already checked by {@link parseCaCertificates}. */
export const summarizePems = (pems: readonly string[]): CertificateSummary[] =>
  pems.map((p) => summarizeCertificate(new X509Certificate(p)));

/**
 * The CA list for a TLS client: undefined (Node's default store: the public roots, plus NODE_EXTRA_CA_CERTS) when
 * there is nothing to add; otherwise that default store plus `extra`. Node ≥ 22.15 tells its default store
 * (`tls.getCACertificates('default')`); before, the bundled public roots stand for it.
 */
export function trustedCas(extra: readonly string[]): string[] | undefined {
  if (extra.length === 0) return undefined;
  const get = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  const defaults = typeof get === 'function' ? get('default') : tls.rootCertificates;
  return [...defaults, ...extra];
}

// ---- what a server presents ------------------------------------------------------------------------------

export interface TlsInspection {
  /** The certificates the server sent, leaf first, as far as Node links them (up to a trusted root when found). */
  chain: CertificateSummary[];
  /** The chain verifies against the trusted CAs (public roots + configured ones), dates included. */
  chainVerified: boolean;
  /** OpenSSL's reason when it does not (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `CERT_HAS_EXPIRED`…). */
  chainError?: string;
  /** The certificate is for this host name (or IP): undefined when it is, else why not. */
  nameError?: string;
  /** `TLSv1.3`… */
  protocol?: string;
}

export interface InspectOptions {
  host: string;
  port: number;
  /** Connect to this address instead of resolving `host` again (the name is still used for SNI and checks). */
  address?: string;
  /** The CA list (see {@link trustedCas}); undefined: Node's default store. */
  ca?: readonly string[] | undefined;
  timeoutMs: number;
}

/** A failed inspection: the connection or the handshake itself failed. */
export class TlsInspectionError extends Error {
  override readonly name = 'TlsInspectionError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

function chainOf(peer: tls.DetailedPeerCertificate): CertificateSummary[] {
  const out: CertificateSummary[] = [];
  const seen = new Set<string>();
  for (let c: tls.DetailedPeerCertificate | undefined = peer; c?.raw; c = c.issuerCertificate) {
    if (seen.has(c.fingerprint256) || out.length >= 10) break;
    seen.add(c.fingerprint256);
    out.push(summarizeCertificate(new X509Certificate(c.raw)));
  }
  return out;
}

const codeOf = (e: unknown): string | undefined => {
  if (typeof e === 'string') return e;
  if (e && typeof e === 'object' && 'code' in e && typeof e.code === 'string') return e.code;
  return e instanceof Error ? e.message : undefined;
};

/**
 * Completes a TLS handshake with `host:port` and reports what the server presents and whether it verifies, without
 * sending a single byte of application data (no request, no credentials). Verification is done here, not by the
 * handshake, so that a refused certificate can still be described.
 */
export function inspectTls(opts: InspectOptions): Promise<TlsInspection> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: opts.address ?? opts.host,
      port: opts.port,
      ...(isIP(opts.host) ? {} : { servername: opts.host }),
      ...(opts.ca ? { ca: [...opts.ca] } : {}),
      rejectUnauthorized: false,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TlsInspectionError(`no TLS handshake within ${opts.timeoutMs} ms`, 'ETIMEDOUT'));
    }, opts.timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      try {
        const peer = socket.getPeerCertificate(true);
        const chainError = socket.authorized ? undefined : codeOf(socket.authorizationError);
        const nameError = peer.raw ? tls.checkServerIdentity(opts.host, peer) : undefined;
        const protocol = socket.getProtocol();
        resolve({
          chain: chainOf(peer),
          chainVerified: socket.authorized,
          ...(chainError ? { chainError } : {}),
          ...(nameError ? { nameError: nameError.message } : {}),
          ...(protocol ? { protocol } : {}),
        });
      } catch (e) {
        reject(new TlsInspectionError(`unreadable certificate: ${codeOf(e) ?? 'unknown'}`, 'EPROTO'));
      } finally {
        socket.destroy();
      }
    });
    socket.once('error', (e: Error) => {
      clearTimeout(timer);
      const code = codeOf(e) ?? 'EPROTO';
      reject(new TlsInspectionError(e.message.replace(/\s+/g, ' ').slice(0, 200), code));
    });
  });
}

// ---- certificate errors -----------------------------------------------------------------------------------

export type TlsFailureKind =
  'unknown-ca' | 'name-mismatch' | 'expired' | 'not-yet-valid' | 'handshake' | 'refused';

const UNKNOWN_CA_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);
const CERT_CODES = new Set([
  ...UNKNOWN_CA_CODES,
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'CERT_REJECTED',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'CERT_SIGNATURE_ALGORITHM_DISALLOWED',
  'EE_KEY_TOO_SMALL',
  'CA_KEY_TOO_SMALL',
  'CA_MD_TOO_WEAK',
]);

/** Whether a transport error code is a TLS failure (certificate or handshake) rather than a network one. */
export function isTlsErrorCode(code: string | undefined): boolean {
  if (!code) return false;
  return (
    CERT_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO'
  );
}

export function tlsFailureKind(code: string): TlsFailureKind {
  if (UNKNOWN_CA_CODES.has(code)) return 'unknown-ca';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') return 'name-mismatch';
  if (code === 'CERT_HAS_EXPIRED') return 'expired';
  if (code === 'CERT_NOT_YET_VALID') return 'not-yet-valid';
  if (CERT_CODES.has(code)) return 'refused';
  return 'handshake';
}

export interface TlsFailureFacts {
  /** The error code of the failed request or of the inspection's verification. */
  code: string;
  host: string;
  port: number;
  /** What the server presented, when an inspection could see it. */
  inspection?: TlsInspection | undefined;
  /** How many extra CA certificates were configured for the target. */
  configuredCas: number;
  /** For comparisons of validity dates; default now. */
  now?: Date;
}

/** The names a certificate is for: its subjectAltName entries, else its CN. */
export function certificateNames(c: CertificateSummary): string {
  if (c.subjectAltName)
    return c.subjectAltName
      .split(',')
      .map((s) =>
        s
          .trim()
          .replace(/^DNS:/, '')
          .replace(/^IP Address:/, ''),
      )
      .join(', ');
  return /CN=([^,]+)/.exec(c.subject)?.[1] ?? c.subject;
}

/** The name a summary is best known by: its CN, or its whole subject. */
const shortName = (name: string): string => /CN=([^,]+)/.exec(name)?.[1] ?? name;

/**
 * What failed and how to fix it, for a certificate or handshake error: one sentence naming the host, the
 * certificate (subject and issuer, or its names, or its dates), the OpenSSL code, and the fix. Pure.
 */
export function describeTlsFailure(f: TlsFailureFacts): { kind: TlsFailureKind; message: string } {
  const kind = tlsFailureKind(f.code);
  const at = `${f.host}:${f.port}`;
  const chain = f.inspection?.chain ?? [];
  const leaf = chain[0];
  const now = (f.now ?? new Date()).getTime();
  const leafText = leaf ? ` (${leaf.subject}, issued by ${leaf.issuer})` : '';
  const trusted =
    f.configuredCas > 0
      ? `neither the public CAs nor the ${f.configuredCas} certificate(s) in ${CA_FIELD} vouch for it`
      : `no public CA vouches for it, and no ${CA_FIELD} are configured`;
  switch (kind) {
    case 'unknown-ca': {
      const selfSigned = f.code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || (chain.length === 1 && leaf?.selfIssued);
      const root = chain.at(-1);
      const ca = selfSigned
        ? 'that self-signed certificate itself (better: have Jenkins serve one issued by your CA)'
        : `the root certificate of the CA that issued it${root ? ` (${shortName(root.selfIssued ? root.subject : root.issuer)})` : ''}`;
      return {
        kind,
        message: `TLS: the certificate of ${at}${leafText} is ${selfSigned ? 'self-signed' : 'signed by an unknown CA'}: ${trusted} (${f.code}). Fix: add ${ca} as PEM to ${CA_FIELD} (pem, or secretId of a secret holding it). Verification cannot be turned off`,
      };
    }
    case 'name-mismatch': {
      const names = leaf ? certificateNames(leaf) : undefined;
      return {
        kind,
        message: `TLS: the certificate of ${at} is for ${names ?? 'other names'}, not ${f.host} (${f.code}). Fix: use a URL with a name the certificate carries${names ? ` (${names})` : ''}, or have the certificate reissued with ${f.host} in its subjectAltName`,
      };
    }
    case 'expired': {
      const expired = chain.find((c) => Date.parse(c.validTo) < now) ?? leaf;
      const what =
        expired && expired !== leaf
          ? `a certificate in the chain of ${at} (${expired.subject})`
          : `the certificate of ${at}${expired ? ` (${expired.subject})` : ''}`;
      return {
        kind,
        message: `TLS: ${what} expired${expired ? ` on ${expired.validTo}` : ''} (${f.code}). Fix: renew it on Jenkins or on the proxy in front of it`,
      };
    }
    case 'not-yet-valid': {
      const future = chain.find((c) => Date.parse(c.validFrom) > now) ?? leaf;
      return {
        kind,
        message: `TLS: the certificate of ${at}${future ? ` (${future.subject})` : ''} is not valid before ${future?.validFrom ?? 'a later date'} (${f.code}). Fix: check the server's and this machine's clocks, or wait until it becomes valid`,
      };
    }
    case 'refused':
      return {
        kind,
        message: `TLS: the certificate of ${at}${leafText} was refused (${f.code}). Fix: have Jenkins serve a valid certificate from a CA in ${CA_FIELD} or a public CA`,
      };
    case 'handshake':
      return {
        kind,
        message: `TLS: no TLS handshake with ${at} (${f.code}): the port may not speak HTTPS (plain http, or another service), or the server refuses this client's TLS versions. Fix: check the URL's scheme and port`,
      };
  }
}

/** The TLS failure an inspection shows (chain, then name), or undefined when the server's certificate is fine. */
export function inspectionFailure(i: TlsInspection): string | undefined {
  if (!i.chainVerified) return i.chainError ?? 'CERT_UNTRUSTED';
  if (i.nameError) return 'ERR_TLS_CERT_ALTNAME_INVALID';
  return undefined;
}
