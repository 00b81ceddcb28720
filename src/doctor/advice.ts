import { privateName, type ResolvedAddress } from './network';

/**
 * Which of the three deployment modes fits a Jenkins target, from what the network checks saw (pure):
 * - `direct`: Jenkins answers over HTTPS from the internet; the default Lambda deployment reaches it;
 * - `vpc`: Jenkins is reachable only from a private network; the functions run in a VPC with a route to it
 *   (serverless.yml stage parameters with subnet and security-group ids);
 * - `self-rotation`: nothing from AWS reaches Jenkins (NAT, no inbound access); `key-rotator self-rotate <key>`
 *   runs next to Jenkins as a scheduled Jenkins job.
 */
export type Mode = 'direct' | 'vpc' | 'self-rotation';

/** Where the checks ran: the operator's machine (CLI) or the deployed scan Lambda. */
export type Where = 'cli' | 'lambda';

export interface NetworkFacts {
  where: Where;
  host: string;
  port: number;
  dns: { ok: true; addresses: readonly ResolvedAddress[] } | { ok: false; code: string };
  /** Absent when DNS failed. */
  tcp?: { ok: true; address: string } | { ok: false; address: string; code: string };
}

export interface ModeAdvice {
  mode: Mode;
  /** The mode that fits when the first one cannot be had (no private route from AWS). */
  alternative?: Mode;
  reason: string;
}

/** Connection failures that mean "nothing came back": a firewall or NAT drops the packets. */
const SILENT = new Set(['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ECONNABORTED']);

const VPC_OR_SELF =
  'VPC mode if AWS has a network route to it (site-to-site VPN, Direct Connect, peering, Transit Gateway); otherwise self-rotation next to Jenkins';

export function fittingMode(f: NetworkFacts): ModeAdvice {
  const from = f.where === 'cli' ? 'from this machine' : 'from the Lambda';
  const nameWhy = privateName(f.host);
  if (!f.dns.ok) {
    if (nameWhy)
      return {
        mode: 'vpc',
        alternative: 'self-rotation',
        reason: `${f.host} is a private name (${nameWhy}), which a Lambda outside a VPC cannot resolve: ${VPC_OR_SELF}; in a VPC, the name must resolve there too (Route 53 private zone or Resolver forwarding rule)`,
      };
    return {
      mode: 'vpc',
      alternative: 'self-rotation',
      reason: `${f.host} does not resolve ${from} (${f.dns.code}): check the URL; if the name exists only in your network's DNS, ${VPC_OR_SELF}`,
    };
  }
  const addresses = f.dns.addresses;
  const privateOne = addresses.find((a) => a.scope === 'private');
  const tcp = f.tcp;
  if (addresses.length > 0 && addresses.every((a) => a.scope === 'loopback')) {
    if (f.where === 'lambda')
      return {
        mode: 'vpc',
        alternative: 'self-rotation',
        reason: `${f.host} is a loopback address, which in a Lambda is the Lambda itself: put the address Jenkins has on its network in the URL; if that address is private, ${VPC_OR_SELF}`,
      };
    return {
      mode: 'direct',
      reason: `${f.host} is this machine (loopback): a local setup such as the sandbox, checked as the direct mode; a deployed Lambda cannot reach this machine, so the deployed configuration needs the address Jenkins has on its network`,
    };
  }
  if (privateOne || nameWhy) {
    if (f.where === 'lambda' && tcp?.ok)
      return {
        mode: 'vpc',
        reason: `the Lambda reaches ${privateOne ? `the private address ${privateOne.address}` : f.host}: it runs in a VPC with a route to Jenkins`,
      };
    const what = privateOne
      ? `${privateOne.address} is a private address (${privateOne.range ?? 'private range'})`
      : `${f.host} is a private name (${nameWhy ?? ''})`;
    const here = f.where === 'cli' && tcp?.ok ? ' (this machine reaches it: it is on that network)' : '';
    return {
      mode: 'vpc',
      alternative: 'self-rotation',
      reason: `${what}${here}: a Lambda outside a VPC cannot reach it. ${VPC_OR_SELF}`,
    };
  }
  if (tcp && !tcp.ok && SILENT.has(tcp.code))
    return {
      mode: 'vpc',
      alternative: 'self-rotation',
      reason: `no TCP answer from ${tcp.address}:${f.port} ${from} (${tcp.code}): a firewall or NAT drops connections to Jenkins. If Jenkins accepts only known sources, VPC mode gives the functions a fixed address to allow (a NAT gateway's); if nothing from outside may come in, self-rotation next to Jenkins`,
    };
  if (tcp && !tcp.ok)
    return {
      mode: 'direct',
      reason: `${tcp.address}:${f.port} is a public address, but nothing accepts connections on port ${f.port} (${tcp.code}): check the URL's port and that Jenkins runs; the host itself answers, so the direct mode fits once the URL is right`,
    };
  const shown = addresses[0]?.address ?? f.host;
  return {
    mode: 'direct',
    reason: `${shown} is a public address and answers ${from}: the default deployment reaches it${f.where === 'cli' ? ' if it also accepts connections from AWS (check from the deployed scan: invoke it with {"action":"doctor"})' : ''}`,
  };
}
