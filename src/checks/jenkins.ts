import { parse as parseYaml } from 'yaml';
import { messageOf } from '../domain/errors';
import type { JenkinsClient } from '../jenkins/client';
import { keyOutsideStoreFinding, keysInXml, type KeyInText } from './findings';
import type { Finding, NotChecked } from './types';

/**
 * Jenkins, read with the rotator's own Jenkins user: access keys written outside the credentials store (jobs',
 * folders' and agents' config.xml; the global environment variables, which Jenkins serves only through the
 * Configuration-as-Code export), and Configuration-as-Code itself. What cannot be read is "not checked".
 */

/** Where a managed key's ids are: AWSCURRENT's, a rotation's pending key, the previous one. */
export type KnownKeys = Map<string, { key: string; role: 'current' | 'pending' | 'previous' | 'other' }>;

/** Bounds on one controller's walk, so a huge Jenkins cannot make one check run for ever. */
const MAX_ITEMS = 2000;
const MAX_DEPTH = 12;
/** Item classes that contain items. */
const CONTAINER = /Folder|MultiBranchProject|OrganizationFolder|ComputedFolder/;
/** Where a folder's config.xml keeps its credentials store: key ids there are where they belong. */
const CREDENTIAL_STORE =
  /FolderCredentialsProperty|domainCredentialsMap|AWSCredentialsImpl|UsernamePasswordCredentialsImpl/;

export interface ControllerChecks {
  findings: Finding[];
  notChecked: NotChecked[];
  /** Whether configuration-as-code is installed (undefined: could not tell). */
  cascInstalled?: boolean;
}

/** Every value shaped like an access key id in a YAML document, with its path; the credentials section excluded. */
export function keysInYaml(yaml: string): KeyInText[] {
  const doc: unknown = parseYaml(yaml);
  const out: KeyInText[] = [];
  const walk = (v: unknown, path: string, siblings: unknown[]) => {
    if (typeof v === 'string') {
      for (const k of keysInXml(v))
        out.push({
          ...k,
          field: path,
          secretNearby:
            k.secretNearby ||
            siblings.some(
              (s) => typeof s === 'string' && keysInXml(`x ${k.accessKeyId} ${s}`)[0]?.secretNearby === true,
            ),
        });
      return;
    }
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`, v));
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        if (path === '' && k === 'credentials') continue; // the credentials store: where keys belong
        walk(x, path ? `${path}.${k}` : k, Object.values(v));
      }
  };
  walk(doc, '', []);
  return out;
}

/** The credential ids a Configuration-as-Code export lists in the system store. */
export function cascCredentialIds(yaml: string): string[] {
  const doc = parseYaml(yaml) as {
    credentials?: { system?: { domainCredentials?: { credentials?: Record<string, { id?: string }>[] }[] } };
  };
  const ids: string[] = [];
  for (const d of doc.credentials?.system?.domainCredentials ?? [])
    for (const c of d.credentials ?? []) for (const v of Object.values(c)) if (v.id) ids.push(v.id);
  return ids;
}

/**
 * Walks a controller's jobs and folders from the root, breadth first and bounded ({@link MAX_ITEMS} items,
 * {@link MAX_DEPTH} levels), handing each readable config.xml to `visit`. Items whose configuration the user may not
 * read are listed in `forbidden`; `truncated` says the bounds cut the walk short.
 */
export async function walkItems(
  client: JenkinsClient,
  visit: (fullName: string, configXml: string, className: string) => void,
): Promise<{ forbidden: string[]; truncated: boolean }> {
  const forbidden: string[] = [];
  let read = 0;
  const queue: { path: string; depth: number }[] = [{ path: '', depth: 0 }];
  while (queue.length && read < MAX_ITEMS) {
    const { path, depth } = queue.shift()!;
    const items = await client.listItems(path || undefined);
    for (const it of items ?? []) {
      const full = path ? `${path}/${it.name}` : it.name;
      if (read >= MAX_ITEMS) break;
      read += 1;
      const cfg = await client.itemConfigXml(full);
      if (cfg === 'forbidden' || cfg === 'missing') forbidden.push(full);
      else visit(full, cfg.xml, it.className);
      if (CONTAINER.test(it.className) && depth + 1 < MAX_DEPTH) queue.push({ path: full, depth: depth + 1 });
    }
  }
  return { forbidden, truncated: queue.length > 0 || read >= MAX_ITEMS };
}

/**
 * The checks of one controller. `managedCredentials`: the system-store credential ids of managed keys there (what a
 * Configuration-as-Code YAML could define and a reload put back).
 */
export async function checkController(
  client: JenkinsClient,
  url: string,
  known: KnownKeys,
  managedCredentials: { key: string; credentialId: string; secretId: string }[],
): Promise<ControllerChecks> {
  const out: ControllerChecks = { findings: [], notChecked: [] };
  const jenkins = { kind: 'jenkins' as const, id: url, jenkins: url };
  const report = (found: KeyInText[], where: Parameters<typeof keyOutsideStoreFinding>[1]) => {
    for (const k of found) out.findings.push(keyOutsideStoreFinding(k, where, known.get(k.accessKeyId)));
  };

  // Jobs and folders, walked from the root.
  let forbidden: string[] = [];
  try {
    const walk = await walkItems(client, (full, cfg) =>
      report(
        keysInXml(cfg).filter((k) => !CREDENTIAL_STORE.test(k.field)),
        { kind: 'jenkins-item', id: full, jenkins: url },
      ),
    );
    forbidden = walk.forbidden;
    if (walk.truncated)
      out.notChecked.push({
        group: 'jenkins-config',
        resource: jenkins,
        reason: `not checked beyond the first ${MAX_ITEMS} items (or ${MAX_DEPTH} folder levels)`,
      });
  } catch (err) {
    out.notChecked.push({
      group: 'jenkins-config',
      resource: jenkins,
      reason: `could not list the jobs: ${messageOf(err)}`,
    });
  }
  if (forbidden.length)
    out.notChecked.push({
      group: 'jenkins-config',
      resource: {
        ...jenkins,
        location: forbidden.slice(0, 10).join(', ') + (forbidden.length > 10 ? ', …' : ''),
      },
      reason: `not checked: ${forbidden.length} job or folder configuration(s) the rotator's Jenkins user may not read (needs Job/ExtendedRead, which Jenkins ships disabled: then Job/Configure)`,
      missingPermission: 'Job/ExtendedRead',
    });

  // Agents.
  try {
    const agents = await client.listAgents();
    if (agents === 'forbidden')
      out.notChecked.push({
        group: 'jenkins-config',
        resource: jenkins,
        reason: 'not checked: the agents list is not readable',
      });
    else {
      const denied: string[] = [];
      for (const name of agents) {
        const cfg = await client.agentConfigXml(name);
        if (cfg === 'forbidden' || cfg === 'missing') denied.push(name);
        else report(keysInXml(cfg.xml), { kind: 'jenkins-node', id: name, jenkins: url });
      }
      if (denied.length)
        out.notChecked.push({
          group: 'jenkins-config',
          resource: { ...jenkins, location: denied.join(', ') },
          reason: `not checked: ${denied.length} agent configuration(s) (needs Agent/ExtendedRead, which Jenkins ships disabled: then Agent/Configure)`,
          missingPermission: 'Agent/ExtendedRead',
        });
    }
  } catch (err) {
    out.notChecked.push({
      group: 'jenkins-config',
      resource: jenkins,
      reason: `could not read the agents: ${messageOf(err)}`,
    });
  }

  // Configuration-as-Code, and the global environment variables only its export shows.
  let plugins: Awaited<ReturnType<JenkinsClient['plugins']>> | undefined;
  try {
    plugins = await client.plugins();
  } catch (err) {
    out.notChecked.push({
      group: 'jcasc',
      resource: jenkins,
      reason: `could not read the plugins: ${messageOf(err)}`,
    });
  }
  if (plugins === 'forbidden')
    out.notChecked.push({
      group: 'jcasc',
      resource: jenkins,
      reason:
        'not checked: whether configuration-as-code is installed (the plugin manager needs Overall/SystemRead)',
      missingPermission: 'Overall/SystemRead',
    });
  else if (plugins)
    out.cascInstalled = plugins.some((p) => p.shortName === 'configuration-as-code' && p.active);
  const exported =
    out.cascInstalled === false ? 'missing' : await client.cascExport().catch(() => 'forbidden' as const);
  if (exported === 'missing' || exported === 'forbidden')
    out.notChecked.push({
      group: 'jenkins-config',
      resource: { kind: 'jenkins-global', id: 'global environment variables', jenkins: url },
      reason:
        exported === 'missing'
          ? 'not checked: Jenkins serves its global environment variables only through the Configuration-as-Code export, and that plugin is not installed'
          : 'not checked: the global environment variables (the Configuration-as-Code export needs Overall/SystemRead)',
      ...(exported === 'forbidden' ? { missingPermission: 'Overall/SystemRead' } : {}),
    });
  else {
    report(keysInYaml(exported.yaml), {
      kind: 'jenkins-global',
      id: 'Configuration-as-Code export',
      jenkins: url,
    });
    const inExport = new Set(cascCredentialIds(exported.yaml));
    for (const m of managedCredentials)
      if (inExport.has(m.credentialId))
        out.findings.push({
          check: 'credential-defined-by-jcasc',
          severity: 'medium',
          resource: { kind: 'jenkins-credential', id: m.credentialId, jenkins: url, key: m.key },
          title: `credential ${m.credentialId} (managed key ${m.key}) is in the system store of a Jenkins managed by Configuration-as-Code: if its YAML defines it, the next reload or restart puts the old key back`,
          detail:
            "Jenkins cannot tell what its YAML defines (the export lists every system credential); the scan's drift check reports a credential that no longer holds the current key",
          fix: `if your casc.yaml defines ${m.credentialId}, make it read the key from Secrets Manager at every reload with the AWS Secrets Manager SecretSource plugin (aws-secrets-manager-secret-source): accessKey: "\${json:accessKeyId:\${${m.secretId}}}", secretKey: "\${json:secretAccessKey:\${${m.secretId}}}" (Jenkins then needs secretsmanager:GetSecretValue on that secret); or take the credential out of the YAML, so the rotator alone owns it`,
        });
  }
  if (out.cascInstalled && exported === 'forbidden')
    out.notChecked.push({
      group: 'jcasc',
      resource: jenkins,
      reason:
        'not checked: whether Configuration-as-Code defines a managed credential (the export needs Overall/SystemRead)',
      missingPermission: 'Overall/SystemRead',
    });
  return out;
}
