import { lookup } from 'node:dns/promises';
import { connect, isIP, isIPv4 } from 'node:net';

/**
 * The network half of the doctor: name resolution and TCP connects with deadlines, and where an address or a name
 * lives (public, private, loopback). Nothing here sends application data.
 */

/** Where an address can be reached from: anywhere, a private network only, or this machine only. */
export type AddressScope = 'public' | 'private' | 'loopback';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
  scope: AddressScope;
  /** Why it is private: `RFC 1918`, `CGNAT (RFC 6598)`, `link-local`, `unique local (RFC 4193)`… */
  range?: string;
}

const v4 = (ip: string): number[] => ip.split('.').map(Number);

/** The scope of an IP address, and for private ones the range it is in. */
export function addressScope(ip: string): { scope: AddressScope; range?: string } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (mapped) return addressScope(mapped);
  if (isIPv4(ip)) {
    const [a = 0, b = 0] = v4(ip);
    if (a === 127) return { scope: 'loopback' };
    if (a === 0) return { scope: 'loopback', range: 'this host (0.0.0.0/8)' };
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168))
      return { scope: 'private', range: 'RFC 1918' };
    if (a === 100 && b >= 64 && b <= 127) return { scope: 'private', range: 'CGNAT (RFC 6598)' };
    if (a === 169 && b === 254) return { scope: 'private', range: 'link-local' };
    return { scope: 'public' };
  }
  const lower = ip.toLowerCase();
  if (lower === '::1' || lower === '::') return { scope: 'loopback' };
  if (/^f[cd]/.test(lower)) return { scope: 'private', range: 'unique local (RFC 4193)' };
  if (/^fe[89ab]/.test(lower)) return { scope: 'private', range: 'link-local' };
  return { scope: 'public' };
}

/** Name endings that public DNS never answers (RFC 6761/6762, home.arpa) or that companies use internally. */
const PRIVATE_SUFFIX = /\.(local|internal|intranet|lan|home|home\.arpa|corp|localdomain|private)\.?$/i;

/**
 * Why a host name can only be a private network's, or undefined: a name with a private suffix (`.local`,
 * `.internal`, `.lan`, `.corp`, …) or a single label (`jenkins`), which only a local search domain completes.
 */
export function privateName(host: string): string | undefined {
  if (isIP(host)) return undefined;
  if (host === 'localhost' || host.endsWith('.localhost')) return undefined;
  const suffix = PRIVATE_SUFFIX.exec(host)?.[1];
  if (suffix) return `.${suffix.toLowerCase()} names resolve only inside private networks`;
  if (!host.includes('.')) return 'a single-label name resolves only through a local search domain';
  return undefined;
}

export class NetworkProbeError extends Error {
  override readonly name = 'NetworkProbeError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const codeOf = (e: unknown): string =>
  e && typeof e === 'object' && 'code' in e && typeof e.code === 'string' ? e.code : 'UNKNOWN';

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new NetworkProbeError(`${what}: no answer within ${ms} ms`, 'ETIMEDOUT')),
      ms,
    );
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/**
 * The addresses `host` resolves to, as the system resolver gives them (what the HTTP client will use); an IP
 * literal as itself. Fails with NetworkProbeError: ENOTFOUND (no such name), EAI_AGAIN (the resolver did not
 * answer), ETIMEDOUT (not within `timeoutMs`).
 */
export async function resolveHost(host: string, timeoutMs: number): Promise<ResolvedAddress[]> {
  const literal = host.replace(/^\[(.*)\]$/, '$1');
  const found = isIP(literal)
    ? [{ address: literal, family: isIP(literal) }]
    : await withDeadline(
        lookup(literal, { all: true, verbatim: true }).catch((e: unknown) => {
          throw new NetworkProbeError(`${literal} does not resolve (${codeOf(e)})`, codeOf(e));
        }),
        timeoutMs,
        `resolving ${literal}`,
      );
  return found.map(({ address, family }) => ({
    address,
    family: family === 6 ? 6 : 4,
    ...addressScope(address),
  }));
}

/** Opens a TCP connection to `address:port` and closes it at once; resolves with the time it took (ms). */
export function connectTcp(address: string, port: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new NetworkProbeError(`no answer from ${address}:${port} within ${timeoutMs} ms`, 'ETIMEDOUT'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Date.now() - started);
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new NetworkProbeError(`${address}:${port}: ${codeOf(e)}`, codeOf(e)));
    });
  });
}
