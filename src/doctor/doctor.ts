import { isIP } from 'node:net';
import type { Composition } from '../compose';
import type { JenkinsTarget as TargetConfig, ManagedKey } from '../config';
import { messageOf } from '../domain/errors';
import { isJenkinsError, permissionName, type JenkinsClient, type PermissionProbe } from '../jenkins';
import { describeStore } from '../jenkins/paths';
import {
  describeTlsFailure,
  inspectionFailure,
  inspectTls,
  isTlsErrorCode,
  summarizePems,
  trustedCas,
  TlsInspectionError,
  type CertificateSummary,
  type TlsInspection,
} from '../jenkins/tls';
import { jenkinsClientFor } from '../jenkins-target';
import { fittingMode, type Mode, type NetworkFacts, type Where } from './advice';
import { connectTcp, NetworkProbeError, resolveHost, type ResolvedAddress } from './network';

/**
 * `key-rotator doctor`: for each Jenkins target, from where it runs (the CLI, or the deployed scan Lambda), the
 * checks a rotation depends on, in order: the secrets, DNS, TCP, TLS, authentication, and the permissions on the
 * credential (and the canary job), each with its status and cause; then the deployment mode that fits. It changes
 * nothing: the only writes are two permission probes that Jenkins refuses before any change (see JenkinsClient).
 */

export type CheckName =
  'secrets' | 'dns' | 'tcp' | 'tls' | 'auth' | 'credential' | 'update' | 'create' | 'canary' | 'build';

/**
 * `ok` proven; `fail` a rotation would fail here; `warn` works, but needs a look; `skip` not checked (an earlier
 * check failed, or not needed); `unproven` cannot be established without changing something.
 */
export type CheckStatus = 'ok' | 'fail' | 'warn' | 'skip' | 'unproven';

export interface DoctorCheck {
  name: CheckName;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorTarget {
  key: string;
  target: string;
  url: string;
  user: string;
  /** `system store`, `folder store team-a`. */
  store: string;
  credentialId: string;
  /** No check failed. */
  ok: boolean;
  /** The first failed check's detail. */
  cause?: string;
  checks: DoctorCheck[];
  /** The deployment mode that fits this target, from what the network checks saw. */
  mode: Mode;
  alternative?: Mode;
  modeReason: string;
}

export interface DoctorReport {
  from: Where;
  /** `this machine (host)` or `Lambda <function> in <region>`. */
  fromDetail: string;
  checkedAt: string;
  /** Every target passed. */
  ok: boolean;
  targets: DoctorTarget[];
  counts: { targets: number; failed: number };
}

export interface DoctorOptions {
  where: Where;
  fromDetail: string;
  /** Only this managed key (its name or IAM user). */
  key?: string;
  /** `reachability`: secrets, DNS, TCP, TLS and authentication only (no permission probes), as `plan` shows. */
  scope?: 'full' | 'reachability';
  now?: Date;
}

/** Which keys a doctor run covers; an unknown name is an error naming the managed keys. */
export function doctorKeys(keys: readonly ManagedKey[], name: string | undefined): ManagedKey[] {
  if (name === undefined) return [...keys];
  const lower = name.toLowerCase();
  const found = keys.filter((k) => k.name === name || k.iamUser.toLowerCase() === lower);
  if (found.length) return found;
  throw new DoctorInputError(
    `"${name}" is not a managed key name or IAM user in the configuration (managed: ${keys.map((k) => `${k.name} (${k.iamUser})`).join(', ')})`,
  );
}

export class DoctorInputError extends Error {
  override readonly name = 'DoctorInputError';
}

export async function runDoctor(composition: Composition, opts: DoctorOptions): Promise<DoctorReport> {
  const keys = doctorKeys(composition.config.keys, opts.key);
  const targets = await Promise.all(
    keys.flatMap((k) => k.jenkins.map((t) => doctorTarget(composition, k, t, opts))),
  );
  const failed = targets.filter((t) => !t.ok).length;
  return {
    from: opts.where,
    fromDetail: opts.fromDetail,
    checkedAt: (opts.now ?? new Date()).toISOString(),
    ok: failed === 0,
    targets,
    counts: { targets: targets.length, failed },
  };
}

const skip = (name: CheckName, why: string): DoctorCheck => ({ name, status: 'skip', detail: why });
const fail = (name: CheckName, detail: string, fix?: string): DoctorCheck => ({
  name,
  status: 'fail',
  detail,
  ...(fix ? { fix } : {}),
});

/** `detail. Fix: fix` (the TLS messages) → a detail and its fix. */
function splitFix(message: string): { detail: string; fix?: string } {
  const at = message.indexOf('. Fix: ');
  return at < 0 ? { detail: message } : { detail: message.slice(0, at), fix: message.slice(at + 7) };
}

const describeAddress = (a: ResolvedAddress): string =>
  `${a.address} (${a.scope}${a.range ? `, ${a.range}` : ''})`;

const certLine = (c: CertificateSummary): string =>
  `${c.subject} (issued by ${c.issuer}, valid until ${c.validTo.slice(0, 10)})`;

/** Everything the checks of one target found, in order. */
class TargetRun {
  readonly checks: DoctorCheck[] = [];
  add(c: DoctorCheck): DoctorCheck {
    this.checks.push(c);
    return c;
  }
}

async function doctorTarget(
  composition: Composition,
  key: ManagedKey,
  t: TargetConfig,
  opts: DoctorOptions,
): Promise<DoctorTarget> {
  const url = new URL(t.url);
  const https = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port || (https ? 443 : 80));
  const timeoutMs = key.policy.jenkinsTimeoutSeconds * 1000;
  const now = opts.now ?? new Date();
  const run = new TargetRun();

  // Secrets: the token, and the CA certificates (configured inline or in a secret).
  const [token, cas] = await Promise.all([
    composition.jenkinsClients.token(t).then(
      (v) => ({ ok: true as const, v }),
      (e: unknown) => ({ ok: false as const, e }),
    ),
    composition.jenkinsClients.caCertificates(t).then(
      (v) => ({ ok: true as const, v }),
      (e: unknown) => ({ ok: false as const, e }),
    ),
  ]);
  run.add(secretsCheck(t, token, cas, now));
  const extraCas = cas.ok ? cas.v : [];

  // DNS, then TCP to the addresses in order until one accepts.
  let addresses: ResolvedAddress[] | undefined;
  let dnsCode = '';
  try {
    addresses = await resolveHost(host, timeoutMs);
    run.add({
      name: 'dns',
      status: 'ok',
      detail: isIP(host)
        ? `${host} is an IP address: ${addresses.map(describeAddress).join(', ')}`
        : `${host} → ${addresses.map(describeAddress).join(', ')}`,
    });
  } catch (e) {
    dnsCode = e instanceof NetworkProbeError ? e.code : 'UNKNOWN';
    run.add(fail('dns', `${host} does not resolve (${dnsCode})`, 'check the host name in the URL'));
  }
  let connected: string | undefined;
  let tcpFailure: { address: string; code: string } | undefined;
  if (addresses) {
    for (const a of addresses.slice(0, 3)) {
      try {
        const ms = await connectTcp(a.address, port, timeoutMs);
        connected = a.address;
        run.add({
          name: 'tcp',
          status: 'ok',
          detail: `${a.address}:${port} accepted the connection (${ms} ms)`,
        });
        break;
      } catch (e) {
        tcpFailure ??= { address: a.address, code: e instanceof NetworkProbeError ? e.code : 'UNKNOWN' };
      }
    }
    if (!connected && tcpFailure) {
      const { address, code } = tcpFailure;
      run.add(
        code === 'ECONNREFUSED'
          ? fail(
              'tcp',
              `nothing accepts connections on ${address}:${port} (ECONNREFUSED)`,
              `check the URL's port, and that Jenkins (or its proxy) runs there`,
            )
          : code === 'ETIMEDOUT'
            ? fail(
                'tcp',
                `no answer from ${address}:${port} within ${timeoutMs} ms (ETIMEDOUT): something drops the connection (firewall, NAT, no route)`,
              )
            : fail('tcp', `cannot connect to ${address}:${port} (${code})`),
      );
    }
  } else run.add(skip('tcp', 'not tried: the name does not resolve'));

  // TLS: what the server presents, verified against the public CAs plus the configured ones.
  let tlsOk = !https;
  if (!https) {
    const loopback = addresses?.every((a) => a.scope === 'loopback') ?? false;
    run.add(
      loopback
        ? skip('tls', 'plain http to this machine (allowed for loopback addresses)')
        : {
            name: 'tls',
            status: 'warn',
            detail: 'plain http (allowInsecureHttp): the token crosses the network in clear',
            fix: 'serve Jenkins over https',
          },
    );
  } else if (!connected) run.add(skip('tls', 'not tried: no TCP connection'));
  else {
    const c = await tlsCheck({ host, port, address: connected, extraCas, timeoutMs, now });
    tlsOk = run.add(c).status === 'ok';
  }

  const mode = fittingMode({
    where: opts.where,
    host,
    port,
    dns: addresses ? { ok: true, addresses } : { ok: false, code: dnsCode },
    ...(addresses
      ? {
          tcp: connected
            ? { ok: true as const, address: connected }
            : {
                ok: false as const,
                address: tcpFailure?.address ?? host,
                code: tcpFailure?.code ?? 'UNKNOWN',
              },
        }
      : {}),
  } satisfies NetworkFacts);

  // HTTP: authentication, then the permissions a rotation uses (read-only, or refused before any change).
  const whyNot = !connected
    ? 'no TCP connection'
    : !tlsOk
      ? 'TLS failed'
      : !token.ok
        ? 'the token secret could not be read'
        : !cas.ok
          ? 'the CA certificate secret could not be read'
          : undefined;
  if (whyNot || !token.ok) {
    run.add(skip('auth', `not tried: ${whyNot ?? 'no token'}`));
  } else {
    const client = jenkinsClientFor(t, token.v, key.policy.jenkinsTimeoutSeconds, extraCas);
    const auth = run.add(await authCheck(client, t));
    if (auth.status === 'ok' && opts.scope !== 'reachability') await permissionChecks(run, client, key, t);
  }

  const failedCheck = run.checks.find((c) => c.status === 'fail');
  return {
    key: key.name,
    target: t.name,
    url: t.url,
    user: t.user,
    store: describeStore(t.store),
    credentialId: t.credentialId,
    ok: !failedCheck,
    ...(failedCheck ? { cause: `${failedCheck.name}: ${failedCheck.detail}` } : {}),
    checks: run.checks,
    mode: mode.mode,
    ...(mode.alternative ? { alternative: mode.alternative } : {}),
    modeReason: mode.reason,
  };
}

type Outcome<T> = { ok: true; v: T } | { ok: false; e: unknown };

function secretsCheck(
  t: TargetConfig,
  token: Outcome<string>,
  cas: Outcome<string[]>,
  now: Date,
): DoctorCheck {
  const parts: string[] = [];
  const fixes: string[] = [];
  let status: CheckStatus = 'ok';
  if (token.ok) parts.push(`token secret ${t.tokenSecretId} read`);
  else {
    status = 'fail';
    parts.push(`token secret ${t.tokenSecretId} unreadable: ${messageOf(token.e)}`);
    fixes.push(
      `store ${t.user}'s API token in ${t.tokenSecretId} (bare, or JSON with "apiToken"), readable by this rotator (the deployed roles read secrets under tokenSecretPrefix)`,
    );
  }
  if (!cas.ok) {
    status = 'fail';
    parts.push(`CA certificates unreadable: ${messageOf(cas.e)}`);
    fixes.push('put the CA certificates (PEM) in the secret named by caCertificates.secretId');
  } else if (cas.v.length) {
    const summaries = summarizePems(cas.v);
    parts.push(
      `${summaries.length} CA certificate(s) configured: ${summaries.map((c) => `${c.subject} (until ${c.validTo.slice(0, 10)})`).join('; ')}`,
    );
    const expired = summaries.filter((c) => Date.parse(c.validTo) < now.getTime());
    if (expired.length) {
      if (status === 'ok') status = 'warn';
      parts.push(`expired: ${expired.map((c) => c.subject).join('; ')}`);
      fixes.push(`replace the expired CA certificate(s) in ${'keys[].jenkins[].caCertificates'}`);
    }
    const leaves = summaries.filter((c) => !c.ca && !c.selfIssued);
    if (leaves.length) {
      if (status === 'ok') status = 'warn';
      parts.push(`not a CA certificate: ${leaves.map((c) => c.subject).join('; ')}`);
      fixes.push('configure the root certificate of the CA (Node verifies a chain up to a self-signed root)');
    }
  }
  return {
    name: 'secrets',
    status,
    detail: parts.join('; '),
    ...(fixes.length ? { fix: fixes.join('; ') } : {}),
  };
}

async function tlsCheck(o: {
  host: string;
  port: number;
  address: string;
  extraCas: string[];
  timeoutMs: number;
  now: Date;
}): Promise<DoctorCheck> {
  const trust = `the public CAs${o.extraCas.length ? ` + ${o.extraCas.length} configured CA certificate(s)` : ''}`;
  let inspection: TlsInspection;
  try {
    inspection = await inspectTls({
      host: o.host,
      port: o.port,
      address: o.address,
      ca: trustedCas(o.extraCas),
      timeoutMs: o.timeoutMs,
    });
  } catch (e) {
    const code = e instanceof TlsInspectionError ? e.code : 'UNKNOWN';
    if (isTlsErrorCode(code)) {
      const d = describeTlsFailure({ code, host: o.host, port: o.port, configuredCas: o.extraCas.length });
      return { name: 'tls', status: 'fail', ...splitFix(d.message) };
    }
    return fail(
      'tls',
      `no TLS handshake with ${o.host}:${o.port}: ${messageOf(e)}`,
      "check the URL's scheme and port",
    );
  }
  const chain = inspection.chain.map(certLine).join(' ← ');
  const code = inspectionFailure(inspection);
  if (!code)
    return {
      name: 'tls',
      status: 'ok',
      detail: `${inspection.protocol ?? 'TLS'}; chain: ${chain}; verified with ${trust}, and issued for ${o.host}`,
    };
  const d = describeTlsFailure({
    code,
    host: o.host,
    port: o.port,
    inspection,
    configuredCas: o.extraCas.length,
    now: o.now,
  });
  const { detail, fix } = splitFix(d.message);
  return {
    name: 'tls',
    status: 'fail',
    detail: `${detail}; chain served: ${chain}`,
    ...(fix ? { fix } : {}),
  };
}

async function authCheck(client: JenkinsClient, t: TargetConfig): Promise<DoctorCheck> {
  try {
    const who = await client.whoAmI();
    if (who.anonymous)
      return fail(
        'auth',
        'Jenkins took the request for anonymous: the Authorization header did not arrive',
        'a proxy in front of Jenkins drops the Authorization header: have it pass the header through',
      );
    const as = `token accepted: signed in as ${who.name}${who.name.toLowerCase() === t.user.toLowerCase() ? '' : ` (configured user: ${t.user})`}`;
    try {
      await client.checkOverallRead();
    } catch (e) {
      if (isJenkinsError(e) && e.reason === 'forbidden')
        return fail('auth', `${as}, but ${who.name} lacks Overall/Read`, `grant Overall/Read to ${who.name}`);
      throw e;
    }
    return { name: 'auth', status: 'ok', detail: `${as}; has Overall/Read` };
  } catch (e) {
    if (isJenkinsError(e) && e.reason === 'unauthorized')
      return fail(
        'auth',
        `Jenkins refused user ${t.user} with the ${t.authType === 'password' ? 'password' : 'API token'} from ${t.tokenSecretId} (401)`,
        `check keys[].jenkins[].user (${t.user}) and the secret: create an API token for ${t.user} in Jenkins (user menu → Security → API Token) and store it in ${t.tokenSecretId}`,
      );
    if (isJenkinsError(e) && e.reason === 'login-page')
      return fail(
        'auth',
        messageOf(e),
        "the URL reaches a login page (SSO or a proxy), not Jenkins' API: use a URL that reaches Jenkins directly, or let API-token requests through",
      );
    return fail('auth', messageOf(e));
  }
}

function probeCheck(name: CheckName, p: PermissionProbe, user: string, where: string): DoctorCheck {
  if (p.result === 'granted')
    return { name, status: 'ok', detail: `${permissionFor(name)} on the ${where}: granted (${p.evidence})` };
  if (p.result === 'denied')
    return fail(
      name,
      `${user} lacks ${p.permission} on the ${where} (${p.evidence})`,
      `grant ${p.permission} to ${user} on the ${where}`,
    );
  return {
    name,
    status: 'unproven',
    detail: `${permissionFor(name)} on the ${where}: not established (${p.evidence})`,
  };
}

const permissionFor = (name: CheckName): string =>
  name === 'update' ? 'Credentials/Update' : name === 'create' ? 'Credentials/Create' : name;

async function permissionChecks(
  run: TargetRun,
  client: JenkinsClient,
  key: ManagedKey,
  t: TargetConfig,
): Promise<void> {
  const where = describeStore(t.store);
  let exists = false;
  try {
    const access = await client.describeAccess(t.store, t.credentialId);
    exists = access.exists;
    if (!access.exists)
      run.add(
        t.createIfMissing
          ? {
              name: 'credential',
              status: 'ok',
              detail: `the ${where} is visible (Credentials/View); ${t.credentialId} does not exist yet: the first rotation creates it`,
            }
          : fail(
              'credential',
              `${t.credentialId} does not exist in the ${where} (Credentials/View is granted: the store is visible)`,
              `create the credential in Jenkins, fix keys[].jenkins[].credentialId, or set createIfMissing`,
            ),
      );
    else if (access.kind === 'other')
      run.add(
        fail(
          'credential',
          `${t.credentialId} in the ${where} is neither an AWS credential nor a username/password: it cannot hold the key`,
        ),
      );
    else
      run.add({
        name: 'credential',
        status: 'ok',
        detail: `${t.credentialId} in the ${where} is visible (Credentials/View), kind ${access.kind ?? 'unknown'}${access.kind && access.kind !== t.credentialKind ? ` (configured as ${t.credentialKind}: the key is written into the existing kind)` : ''}`,
      });
  } catch (e) {
    if (isJenkinsError(e) && e.reason === 'not-found')
      run.add(
        fail(
          'credential',
          `the ${where} is not visible: ${t.store.kind === 'folder' ? 'the folder does not exist, or ' : ''}${t.user} lacks ${t.store.kind === 'folder' ? 'Job/Read on it or ' : ''}Credentials/View`,
          `grant Credentials/View${t.store.kind === 'folder' ? ' and Job/Read on the folder' : ''} to ${t.user}${t.store.kind === 'folder' ? ', or fix the folder path' : ''}`,
        ),
      );
    else if (isJenkinsError(e) && e.requiredPermission) {
      const p = permissionName(e.requiredPermission);
      run.add(fail('credential', `${t.user} lacks ${p}`, `grant ${p} to ${t.user}`));
    } else run.add(fail('credential', messageOf(e)));
    return;
  }
  run.add(
    exists
      ? probeCheck('update', await client.probeCredentialUpdate(t.store, t.credentialId), t.user, where)
      : skip('update', 'nothing to update yet'),
  );
  run.add(
    t.createIfMissing
      ? probeCheck('create', await client.probeCredentialCreate(t.store), t.user, where)
      : skip('create', 'createIfMissing is false: not needed'),
  );
  const canary = key.verify.canary;
  if (canary?.jenkins !== t.name) return;
  try {
    const job = await client.describeJob(canary.job);
    run.add(
      !job
        ? fail(
            'canary',
            `job ${canary.job} does not exist, or ${t.user} lacks Job/Read on it`,
            `fix verify.canary.job, or grant Job/Read to ${t.user}`,
          )
        : job.buildable
          ? { name: 'canary', status: 'ok', detail: `job ${canary.job} is visible (Job/Read) and enabled` }
          : fail(
              'canary',
              `job ${canary.job} is disabled: Jenkins would refuse the canary build (409)`,
              'enable the job',
            ),
    );
  } catch (e) {
    run.add(fail('canary', messageOf(e)));
    return;
  }
  run.add({
    name: 'build',
    status: 'unproven',
    detail: `Job/Build on ${canary.job}: not provable without starting a build (Jenkins checks it only when a build is triggered); the first rotation's testSecret shows it`,
  });
}
