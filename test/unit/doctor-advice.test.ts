import { describe, expect, it } from 'vitest';
import {
  addressScope,
  fittingMode,
  formatTarget,
  privateName,
  reachabilityLine,
  type DoctorTarget,
  type NetworkFacts,
} from '../../src/doctor';
import type { ResolvedAddress } from '../../src/doctor/network';

const addr = (address: string): ResolvedAddress => ({
  address,
  family: address.includes(':') ? 6 : 4,
  ...addressScope(address),
});
const facts = (over: Partial<NetworkFacts> & Pick<NetworkFacts, 'dns'>): NetworkFacts => ({
  where: 'cli',
  host: 'jenkins.example.com',
  port: 443,
  ...over,
});
const resolved = (...ips: string[]) => ({ ok: true as const, addresses: ips.map(addr) });

describe('addressScope', () => {
  it('knows the private, loopback and public ranges, IPv4 and IPv6', () => {
    const scope = (ip: string) => {
      const s = addressScope(ip);
      return s.range ? `${s.scope} ${s.range}` : s.scope;
    };
    expect(
      ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.10', '100.64.0.1', '169.254.169.254'].map(
        scope,
      ),
    ).toEqual([
      'private RFC 1918',
      'private RFC 1918',
      'private RFC 1918',
      'private RFC 1918',
      'private CGNAT (RFC 6598)',
      'private link-local',
    ]);
    expect(['172.15.0.1', '172.32.0.1', '100.128.0.1', '8.8.8.8', '2001:db8::1'].map(scope)).toEqual([
      'public',
      'public',
      'public',
      'public',
      'public',
    ]);
    expect(['127.0.0.1', '127.8.9.1', '::1'].map(scope)).toEqual(['loopback', 'loopback', 'loopback']);
    expect(['fd12:3456::1', 'fe80::1', '::ffff:10.0.0.7'].map(scope)).toEqual([
      'private unique local (RFC 4193)',
      'private link-local',
      'private RFC 1918',
    ]);
  });
});

describe('privateName', () => {
  it('flags names public DNS never answers, and single labels; not ordinary names or addresses', () => {
    expect(privateName('jenkins.corp.internal')).toBe('.internal names resolve only inside private networks');
    expect(privateName('ci.local')).toBe('.local names resolve only inside private networks');
    expect(privateName('build.home.arpa')).toBe('.home.arpa names resolve only inside private networks');
    expect(privateName('JENKINS.LAN')).toBe('.lan names resolve only inside private networks');
    expect(privateName('jenkins')).toBe('a single-label name resolves only through a local search domain');
    for (const h of ['jenkins.example.com', 'localhost', '10.0.0.5', '::1', 'ci.internal-tools.example.com'])
      expect(privateName(h), h).toBeUndefined();
  });
});

describe('fittingMode', () => {
  it('a public Jenkins that answers: direct (from the CLI, with the advice to check from the Lambda)', () => {
    const lambda = fittingMode(
      facts({ where: 'lambda', dns: resolved('203.0.113.7'), tcp: { ok: true, address: '203.0.113.7' } }),
    );
    expect(lambda).toEqual({
      mode: 'direct',
      reason:
        '203.0.113.7 is a public address and answers from the Lambda: the default deployment reaches it',
    });
    const cli = fittingMode(
      facts({ dns: resolved('203.0.113.7'), tcp: { ok: true, address: '203.0.113.7' } }),
    );
    expect(cli.mode).toBe('direct');
    expect(cli.reason).toContain('if it also accepts connections from AWS (check from the deployed scan');
  });

  it('a private address: VPC if AWS has a route, else self-rotation, whether this machine reaches it or not', () => {
    const here = fittingMode(facts({ dns: resolved('10.20.0.5'), tcp: { ok: true, address: '10.20.0.5' } }));
    expect(here).toEqual({
      mode: 'vpc',
      alternative: 'self-rotation',
      reason:
        '10.20.0.5 is a private address (RFC 1918) (this machine reaches it: it is on that network): a Lambda outside a VPC cannot reach it. VPC mode if AWS has a network route to it (site-to-site VPN, Direct Connect, peering, Transit Gateway); otherwise self-rotation next to Jenkins',
    });
    const fromLambda = fittingMode(
      facts({
        where: 'lambda',
        dns: resolved('10.20.0.5'),
        tcp: { ok: false, address: '10.20.0.5', code: 'ETIMEDOUT' },
      }),
    );
    expect(fromLambda).toMatchObject({ mode: 'vpc', alternative: 'self-rotation' });
    expect(fromLambda.reason).not.toContain('this machine reaches it');
  });

  it('a private address the Lambda reaches: it already runs in a VPC with a route, VPC fits', () => {
    expect(
      fittingMode(
        facts({ where: 'lambda', dns: resolved('192.168.4.2'), tcp: { ok: true, address: '192.168.4.2' } }),
      ),
    ).toEqual({
      mode: 'vpc',
      reason: 'the Lambda reaches the private address 192.168.4.2: it runs in a VPC with a route to Jenkins',
    });
  });

  it('a DNS failure on a private name, and on a public one (from the CLI and from the Lambda)', () => {
    const internal = fittingMode(
      facts({ host: 'jenkins.corp.internal', dns: { ok: false, code: 'ENOTFOUND' } }),
    );
    expect(internal).toMatchObject({ mode: 'vpc', alternative: 'self-rotation' });
    expect(internal.reason).toMatch(
      /^jenkins\.corp\.internal is a private name \(\.internal names resolve only inside private networks\), which a Lambda outside a VPC cannot resolve: VPC mode if AWS has a network route .*; in a VPC, the name must resolve there too \(Route 53 private zone or Resolver forwarding rule\)$/,
    );
    const publicName = fittingMode(facts({ where: 'lambda', dns: { ok: false, code: 'ENOTFOUND' } }));
    expect(publicName).toMatchObject({ mode: 'vpc', alternative: 'self-rotation' });
    expect(publicName.reason).toMatch(
      /^jenkins\.example\.com does not resolve from the Lambda \(ENOTFOUND\): check the URL; if the name exists only in your network's DNS/,
    );
  });

  it('a private name that resolves (split DNS on this machine) counts as private', () => {
    const r = fittingMode(
      facts({
        host: 'jenkins.lan',
        dns: resolved('198.51.100.9'),
        tcp: { ok: true, address: '198.51.100.9' },
      }),
    );
    expect(r).toMatchObject({ mode: 'vpc', alternative: 'self-rotation' });
    expect(r.reason).toMatch(/^jenkins\.lan is a private name/);
  });

  it('a public address that does not answer: a firewall or NAT; VPC for a fixed source address, else self-rotation', () => {
    for (const code of ['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']) {
      const r = fittingMode(
        facts({
          where: 'lambda',
          dns: resolved('203.0.113.7'),
          tcp: { ok: false, address: '203.0.113.7', code },
        }),
      );
      expect(r).toMatchObject({ mode: 'vpc', alternative: 'self-rotation' });
      expect(r.reason).toBe(
        `no TCP answer from 203.0.113.7:443 from the Lambda (${code}): a firewall or NAT drops connections to Jenkins. If Jenkins accepts only known sources, VPC mode gives the functions a fixed address to allow (a NAT gateway's); if nothing from outside may come in, self-rotation next to Jenkins`,
      );
    }
  });

  it('a public address that refuses the port: direct, once the URL names the right port', () => {
    const r = fittingMode(
      facts({
        dns: resolved('203.0.113.7'),
        tcp: { ok: false, address: '203.0.113.7', code: 'ECONNREFUSED' },
      }),
    );
    expect(r.mode).toBe('direct');
    expect(r.alternative).toBeUndefined();
    expect(r.reason).toContain(
      "nothing accepts connections on port 443 (ECONNREFUSED): check the URL's port",
    );
  });

  it('loopback: a local setup from the CLI (direct), the Lambda itself from a Lambda', () => {
    expect(
      fittingMode(
        facts({ host: '127.0.0.1', dns: resolved('127.0.0.1'), tcp: { ok: true, address: '127.0.0.1' } }),
      ).mode,
    ).toBe('direct');
    const lambda = fittingMode(
      facts({
        where: 'lambda',
        host: 'localhost',
        dns: resolved('127.0.0.1', '::1'),
        tcp: { ok: false, address: '127.0.0.1', code: 'ECONNREFUSED' },
      }),
    );
    expect(lambda).toMatchObject({ mode: 'vpc', alternative: 'self-rotation' });
    expect(lambda.reason).toMatch(/^localhost is a loopback address, which in a Lambda is the Lambda itself/);
  });
});

describe('doctor text', () => {
  const t: DoctorTarget = {
    key: 'prod',
    target: 'main',
    url: 'https://ci.example.com',
    user: 'key-rotator',
    store: 'system store',
    credentialId: 'aws-prod',
    ok: false,
    cause:
      'tls: TLS: the certificate of ci.example.com:443 expired on 2026-01-01T00:00:00.000Z (CERT_HAS_EXPIRED)',
    checks: [
      { name: 'dns', status: 'ok', detail: 'ci.example.com → 203.0.113.7 (public)' },
      {
        name: 'tls',
        status: 'fail',
        detail:
          'TLS: the certificate of ci.example.com:443 expired on 2026-01-01T00:00:00.000Z (CERT_HAS_EXPIRED)',
        fix: 'renew it on Jenkins or on the proxy in front of it',
      },
      { name: 'auth', status: 'skip', detail: 'not tried: TLS failed' },
    ],
    mode: 'direct',
    modeReason:
      '203.0.113.7 is a public address and answers from the Lambda: the default deployment reaches it',
  };

  it('one line per check, the fix under a failure, then the mode', () => {
    expect(formatTarget(t)).toBe(
      [
        'prod / main: https://ci.example.com (user key-rotator, system store, credential aws-prod)',
        '  ok    dns         ci.example.com → 203.0.113.7 (public)',
        '  FAIL  tls         TLS: the certificate of ci.example.com:443 expired on 2026-01-01T00:00:00.000Z (CERT_HAS_EXPIRED)',
        '                    fix: renew it on Jenkins or on the proxy in front of it',
        '  skip  auth        not tried: TLS failed',
        '  mode  direct (the default Lambda deployment): 203.0.113.7 is a public address and answers from the Lambda: the default deployment reaches it',
        '',
      ].join('\n'),
    );
  });

  it("plan's reachability line: the cause, or what answered, and the mode", () => {
    expect(reachabilityLine(t)).toBe(
      'FAIL  prod/main  tls: TLS: the certificate of ci.example.com:443 expired on 2026-01-01T00:00:00.000Z (CERT_HAS_EXPIRED) → direct',
    );
    const ok: DoctorTarget = {
      ...t,
      ok: true,
      checks: [
        t.checks[0] ?? { name: 'dns', status: 'ok', detail: '' },
        { name: 'auth', status: 'ok', detail: 'token accepted: signed in as key-rotator; has Overall/Read' },
      ],
      mode: 'vpc',
      alternative: 'self-rotation',
    };
    delete ok.cause;
    expect(reachabilityLine(ok)).toBe(
      'ok    prod/main  ci.example.com → 203.0.113.7 (public), token accepted: signed in as key-rotator → vpc (else self-rotation)',
    );
  });
});
