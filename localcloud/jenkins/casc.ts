/**
 * Jenkins Configuration-as-Code: the export (ConfigurationAsCode.export) built from the emulator's state, and the
 * reload that puts back what the JCasC source defines (README: Configuration as Code).
 */
import { constructCredential, type Credential } from './credentials';
import { isIdTokenCredential } from './oidc';
import type { JenkinsState } from './state';

/** CNode: a mapping (entries sorted by key on output), a sequence, or a scalar. */
export type CNode = CMapping | CNode[] | CScalar;
export interface CMapping {
  [key: string]: CNode | undefined;
}
/**
 * A scalar. `raw` ones (enums, booleans, numbers) are written plain; strings double-quoted (or as a literal block
 * when they span lines), like ConfigurationAsCode.toYaml does.
 */
export interface CScalar {
  scalar: string;
  raw?: boolean;
}

const str = (value: string | undefined): CScalar | undefined =>
  // Empty scalars are left out of an export; SecretSourceResolver.encode escapes `${` as `^${`.
  value === undefined || value === '' ? undefined : { scalar: value.replace(/\$\{/g, '^${') };
const raw = (value: string | number | boolean): CScalar => ({ scalar: String(value), raw: true });
const isScalar = (n: CNode): n is CScalar => !Array.isArray(n) && typeof (n as CScalar).scalar === 'string';

// --- YAML output (snakeyaml, DumperOptions: BLOCK flow style, indent 2, sequences not indented) ------------------

/**
 * A string spanning lines is written as a literal block (`|-`, or `|` with one final newline) when that round-trips
 * without an indentation indicator; otherwise, like every other string, double-quoted.
 */
function scalarText(s: CScalar, indent: string): string[] {
  if (s.raw) return [s.scalar];
  const trailing = s.scalar.endsWith('\n');
  const lines = (trailing ? s.scalar.slice(0, -1) : s.scalar).split('\n');
  const literal =
    lines.length > 1 &&
    !s.scalar.endsWith('\n\n') &&
    !/^\s/.test(s.scalar) &&
    lines.every((l) => !/\s$/.test(l) && [...l].every((c) => c >= ' ' && c !== '\u007f'));
  if (!literal) return [JSON.stringify(s.scalar)];
  return [trailing ? '|' : '|-', ...lines.map((l) => (l === '' ? '' : `${indent}  ${l}`))];
}

/** Lines of a node written at `indent` spaces (a mapping's keys, or a sequence's dashes, start there). */
function block(node: CNode, indent: number): string[] {
  const sp = ' '.repeat(indent);
  if (Array.isArray(node)) {
    const out: string[] = [];
    for (const item of node) {
      if (isScalar(item)) {
        const [first = '', ...rest] = scalarText(item, sp);
        out.push(`${sp}- ${first}`, ...rest);
        continue;
      }
      const lines = block(item, indent + 2);
      out.push(`${sp}- ${(lines[0] ?? '').slice(indent + 2)}`, ...lines.slice(1));
    }
    return out;
  }
  if (isScalar(node)) return scalarText(node, sp);
  const out: string[] = [];
  for (const key of Object.keys(node).sort()) {
    const value = node[key];
    if (value === undefined) continue;
    if (isScalar(value)) {
      const [first = '', ...rest] = scalarText(value, sp);
      out.push(`${sp}${key}: ${first}`, ...rest);
    } else if (Array.isArray(value)) out.push(`${sp}${key}:`, ...block(value, indent));
    else out.push(`${sp}${key}:`, ...block(value, indent + 2));
  }
  return out;
}

/** Drops what toYaml drops: undefined and empty scalars, empty sequences and mappings. */
function prune(node: CNode | undefined): CNode | undefined {
  if (node === undefined) return undefined;
  if (Array.isArray(node)) {
    const items = node.map(prune).filter((n): n is CNode => n !== undefined);
    return items.length ? items : undefined;
  }
  if (isScalar(node)) return node.scalar === '' ? undefined : node;
  const out: CMapping = {};
  for (const [k, v] of Object.entries(node)) {
    const p = prune(v);
    if (p !== undefined) out[k] = p;
  }
  return Object.keys(out).length ? out : undefined;
}

/** The YAML document for root elements in the given order (each root's own keys sorted). */
export function toYaml(roots: [string, CNode | undefined][]): string {
  const lines: string[] = [];
  for (const [name, node] of roots) {
    const p = prune(node);
    if (p === undefined) continue;
    lines.push(...block({ [name]: p }, 0));
  }
  return `${lines.join('\n')}\n`;
}

// --- the export model --------------------------------------------------------------------------------------------

const SYMBOLS: Record<Credential['cls']['kind'], string> = {
  aws: 'aws',
  usernamePassword: 'usernamePassword',
  string: 'string',
  idToken: 'idToken',
  idTokenFile: 'idTokenFile',
};

/**
 * A credential as its DataBoundConfigurator describes it: Secrets encrypted, strings as they are. What is no
 * constructor parameter or setter (an ID-token credential's private key) is not an attribute.
 */
function describeCredential(state: JenkinsState, c: Credential): CNode {
  const attrs: CMapping = {};
  for (const f of c.cls.fields) {
    const v = c.values[f.name];
    if (v === undefined || f.internal) continue;
    if (f.type === 'secret') attrs[f.name] = { scalar: state.secrets.encrypt(String(v)) };
    else if (f.type === 'scope' || f.type === 'integer' || f.type === 'boolean') attrs[f.name] = raw(v);
    else attrs[f.name] = str(String(v));
  }
  return { [SYMBOLS[c.cls.kind]]: attrs };
}

const envVars = (vars: Readonly<Record<string, string>>): CNode => ({
  envVars: {
    env: Object.entries(vars).map(([key, value]) => ({ key: str(key), value: str(value) })),
  },
});

/**
 * What `POST /configuration-as-code/export` writes: `credentials` (the system store; folder stores belong to items,
 * which are not exported), `jenkins` (global and agent node properties, agents, executors) and `unclassified`
 * (the Jenkins location). A subset of a real export, in its shape.
 */
export function cascExport(state: JenkinsState): string {
  const domains = [...state.root.store.domains.entries()].map(([urlName, d]) => ({
    ...(urlName === '_' ? {} : { domain: { name: str(d.name ?? urlName), description: str(d.description) } }),
    credentials: d.credentials.map((c) => describeCredential(state, c)),
  }));
  const nodes = [...state.nodes.values()].map((n): CNode => ({
    permanent: {
      labelString: str(n.labels),
      name: str(n.name),
      nodeDescription: str(n.description),
      nodeProperties: Object.keys(n.env).length ? [envVars(n.env)] : [],
      numExecutors: raw(n.numExecutors),
      remoteFS: str(n.remoteFS),
    },
  }));
  return toYaml([
    ['credentials', { system: { domainCredentials: domains } }],
    [
      'jenkins',
      {
        globalNodeProperties: Object.keys(state.globalEnv).length ? [envVars(state.globalEnv)] : [],
        mode: raw('NORMAL'),
        nodes,
        numExecutors: raw(2),
      },
    ],
    [
      'unclassified',
      {
        location: {
          adminAddress: str('address not configured yet <nobody@nowhere>'),
          url: str(state.rootUrl),
        },
      },
    ],
  ]);
}

/**
 * `POST /configuration-as-code/reload`: the source is applied again, so every credential it defines gets the value the
 * source gives it back (re-created if it was deleted). An ID-token credential is constructed anew, so it gets a new key
 * pair on every reload (oidc-provider-plugin issue #97). Returns the ids put back.
 */
export function cascReload(state: JenkinsState): string[] {
  const restored: string[] = [];
  for (const [id, source] of state.casc.credentials) {
    const values = source.credential.values;
    state.putCredential(
      'system',
      isIdTokenCredential(source.credential)
        ? constructCredential(source.credential.cls.kind, {
            scope: values['scope'] === 'SYSTEM' ? 'SYSTEM' : 'GLOBAL',
            id,
            description: typeof values['description'] === 'string' ? values['description'] : undefined,
            issuer: values['issuer'],
            audience: values['audience'],
          })
        : { cls: source.credential.cls, values: { ...values } },
      source.domain,
    );
    restored.push(id);
  }
  return restored;
}
