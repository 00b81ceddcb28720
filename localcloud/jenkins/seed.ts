import { XMLParser, XMLValidator } from 'fast-xml-parser';
import * as z from 'zod';
import {
  constructCredential,
  credentialId,
  parseCredentialXml,
  pluginOfClass,
  type Credential,
} from './credentials';
import { OIDC_PLUGIN, STANDARD_CLAIMS, isIdTokenCredential } from './oidc';
import { pluginOf } from './plugins';
import { PERMISSION_NAMES } from './security';
import { itemUrl, viewOf, type JenkinsState, type StoreRef } from './state';

const permission = z.enum(PERMISSION_NAMES);
const storeRef = z.union([z.literal('system'), z.strictObject({ folder: z.string().min(1) })]);
const scope = z.enum(['GLOBAL', 'SYSTEM', 'USER']);

const common = {
  store: storeRef,
  /** Domain URL name; default `_` (global). */
  domain: z.string().min(1).optional(),
  id: z.string().min(1),
  scope: scope.optional(),
  description: z.string().optional(),
};

const credentialSeed = z.union([
  z.strictObject({ store: storeRef, domain: z.string().min(1).optional(), xml: z.string().min(1) }),
  z.discriminatedUnion('kind', [
    z.strictObject({
      ...common,
      kind: z.literal('aws'),
      accessKey: z.string(),
      secretKey: z.string(),
      iamRoleArn: z.string().optional(),
      iamExternalId: z.string().optional(),
      iamMfaSerialNumber: z.string().optional(),
      stsTokenDuration: z.number().int().optional(),
    }),
    z.strictObject({
      ...common,
      kind: z.literal('usernamePassword'),
      username: z.string(),
      password: z.string(),
      usernameSecret: z.boolean().optional(),
    }),
    z.strictObject({ ...common, kind: z.literal('string'), secret: z.string() }),
    // oidc-provider: the key pair is made here, as the constructor does; blank issuer/audience are null.
    ...(['idToken', 'idTokenFile'] as const).map((kind) =>
      z.strictObject({
        ...common,
        kind: z.literal(kind),
        /** The issuer override: tokens say this `iss`, and its JWKS must be published there. */
        issuer: z.string().optional(),
        audience: z.string().optional(),
      }),
    ),
  ]),
]);

const claimTemplate = z.strictObject({
  name: z
    .string()
    .min(1)
    .refine(
      (n) => !STANDARD_CLAIMS.has(n),
      'a claim template may not set a standard claim (iss, aud, exp, iat, …)',
    ),
  format: z.string(),
  type: z.enum(['string', 'boolean', 'integer']).optional(),
});

/** IdTokenConfiguration (JCasC `security.idToken`); lists replace the current ones. */
const idTokenSeed = z.strictObject({
  tokenLifetime: z.number().int().positive().optional(),
  claimTemplates: z.array(claimTemplate).optional(),
  buildClaimTemplates: z.array(claimTemplate).optional(),
});

/** Environment variables: names without `=` or whitespace. */
const envName = z.string().regex(/^[^=\s]+$/, 'an environment variable name has no "=" and no whitespace');
const envSeed = z.record(envName, z.string());
/** EnvInject keeps `KEY=value` lines: a value is one line there. */
const envInjectSeed = z.record(envName, z.string().regex(/^[^\r\n]*$/, 'an EnvInject value is one line'));

/** Project-based matrix grants: user id (or 'anonymous') → permissions on the item and what it contains. */
const grantsSeed = z.record(z.string().min(1), z.array(permission));

/** The root element a raw config.xml must have for the item it is given to. */
const ROOTS = {
  freestyle: 'project',
  pipeline: 'flow-definition',
  folder: 'com.cloudbees.hudson.plugins.folder.Folder',
} as const;

const rootParser = new XMLParser({ preserveOrder: true, ignoreAttributes: true, ignoreDeclaration: true });

/** The root element name of a well-formed XML document, or an explanation of why it is not one. */
function rootElement(xml: string): { root: string } | { problem: string } {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) return { problem: `not well-formed XML (${valid.err.msg}, line ${valid.err.line})` };
  const nodes = rootParser.parse(xml) as Record<string, unknown>[];
  const root = nodes.map((n) => Object.keys(n)[0]).find((k) => k !== undefined && !k.startsWith('#'));
  return root === undefined ? { problem: 'no root element' } : { root };
}

function checkConfigXml(xml: string | undefined, kind: keyof typeof ROOTS, ctx: z.RefinementCtx): void {
  if (xml === undefined) return;
  const r = rootElement(xml);
  if ('problem' in r) return void ctx.addIssue({ code: 'custom', path: ['configXml'], message: r.problem });
  if (r.root !== ROOTS[kind])
    ctx.addIssue({
      code: 'custom',
      path: ['configXml'],
      message: `the root element is <${r.root}>, a ${kind} ${kind === 'folder' ? '' : 'job '}has <${ROOTS[kind]}>`,
    });
}

const parameterSeed = z.union([
  z.string().min(1),
  z.strictObject({
    name: z.string().min(1),
    default: z.string().optional(),
    description: z.string().optional(),
    password: z.boolean().optional(),
  }),
]);

const jobSeed = z
  .strictObject({
    path: z.string().min(1),
    type: z.enum(['freestyle', 'pipeline']).optional(),
    parameters: z.array(parameterSeed).optional(),
    disabled: z.boolean().optional(),
    check: z.enum(['sts-identity', 'ecr-login', 'web-identity', 'noop']).optional(),
    credentialId: z.string().min(1).optional(),
    region: z.string().min(1).optional(),
    durationMs: z.number().int().nonnegative().max(600_000).optional(),
    expectedArn: z.string().optional(),
    roleArn: z
      .string()
      .regex(/^arn:aws[\w-]*:iam::\d{12}:role\/.+$/, 'a role ARN: arn:aws:iam::ACCOUNT:role/NAME')
      .optional(),
    roleSessionName: z
      .string()
      .regex(/^[\w+=,.@-]{2,64}$/, 'a role session name: 2 to 64 of [\\w+=,.@-]')
      .optional(),
    quietPeriodMs: z.number().int().nonnegative().max(600_000).optional(),
    description: z.string().optional(),
    env: envInjectSeed.optional(),
    passwords: envInjectSeed.optional(),
    shell: z.string().optional(),
    script: z.string().optional(),
    grants: grantsSeed.optional(),
    configXml: z.string().min(1).optional(),
  })
  .superRefine((job, ctx) => {
    const type = job.type ?? 'freestyle';
    if (type === 'freestyle' && job.script !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['script'],
        message: "script is a pipeline job's; a freestyle job has shell",
      });
    if (type === 'pipeline' && job.shell !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['shell'],
        message: "shell is a freestyle job's; a pipeline job has script",
      });
    if (type === 'pipeline' && job.passwords !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['passwords'],
        message: 'passwords (the EnvInject build wrapper) exist on freestyle jobs only',
      });
    const names = (job.parameters ?? []).map((p) => (typeof p === 'string' ? p : p.name));
    if (job.check === 'web-identity' && job.roleArn === undefined && !names.includes('AWS_ROLE_ARN'))
      ctx.addIssue({
        code: 'custom',
        path: ['roleArn'],
        message: 'check web-identity needs roleArn (or an AWS_ROLE_ARN parameter)',
      });
    for (const field of ['roleArn', 'roleSessionName'] as const)
      if (job[field] !== undefined && job.check !== 'web-identity')
        ctx.addIssue({ code: 'custom', path: [field], message: `${field} is for check web-identity` });
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined)
      ctx.addIssue({ code: 'custom', path: ['parameters'], message: `parameter ${dup} is defined twice` });
    checkConfigXml(job.configXml, type, ctx);
  });

const folderSeed = z.union([
  z.string().min(1),
  z
    .strictObject({
      path: z.string().min(1),
      description: z.string().optional(),
      env: envSeed.optional(),
      grants: grantsSeed.optional(),
      configXml: z.string().min(1).optional(),
    })
    .superRefine((f, ctx) => checkConfigXml(f.configXml, 'folder', ctx)),
]);

const nodeSeed = z.strictObject({
  name: z
    .string()
    .min(1)
    .regex(/^[^/\\?*:;|<>"]+$/, 'an agent name has none of / \\ ? * : ; | < > "')
    .refine((n) => n !== '(built-in)', 'the built-in node is always there'),
  description: z.string().optional(),
  remoteFS: z.string().optional(),
  numExecutors: z.number().int().min(0).max(100).optional(),
  /** Space-separated labels. */
  labels: z.string().optional(),
  env: envSeed.optional(),
  offline: z.boolean().optional(),
});

const pluginSeed = z.union([
  z.string().min(1),
  z.strictObject({
    shortName: z.string().min(1),
    version: z.string().min(1).optional(),
    longName: z.string().min(1).optional(),
    active: z.boolean().optional(),
    enabled: z.boolean().optional(),
  }),
]);

const cascSeed = z.strictObject({
  /** Where the configuration was loaded from (shown on /configuration-as-code/). */
  sources: z.array(z.string().min(1)).optional(),
  /** System-store credentials the JCasC source defines: a reload restores the values they have now. */
  credentials: z
    .array(
      z.union([
        z.string().min(1),
        z.strictObject({ id: z.string().min(1), domain: z.string().min(1).optional() }),
      ]),
    )
    .optional(),
});

export const seedSchema = z.strictObject({
  users: z
    .array(
      z.strictObject({
        id: z.string().min(1),
        fullName: z.string().optional(),
        password: z.string().min(1).optional(),
        apiTokens: z.array(z.string().min(1)).optional(),
        /** Default: every permission. */
        permissions: z.array(permission).optional(),
      }),
    )
    .optional(),
  /** Permissions of requests without Authorization (default none). */
  anonymousPermissions: z.array(permission).optional(),
  folders: z.array(folderSeed).optional(),
  credentials: z.array(credentialSeed).optional(),
  jobs: z.array(jobSeed).optional(),
  csrfEnabled: z.boolean().optional(),
  awsEndpoint: z.string().url().optional(),
  /** -Dhudson.security.ExtendedReadPermission=true: Job/ExtendedRead and Agent/ExtendedRead exist (default off). */
  extendedReadPermission: z.boolean().optional(),
  /** -Djenkins.security.SystemReadPermission=true: Overall/SystemRead exists (default off). */
  systemReadPermission: z.boolean().optional(),
  /** Installed plugins, added or replaced by short name. */
  plugins: z.array(pluginSeed).optional(),
  /** The global environment variables (`jenkins.globalNodeProperties`), replacing the current ones. */
  globalEnv: envSeed.optional(),
  /** Permanent agents, created or replaced by name. */
  nodes: z.array(nodeSeed).optional(),
  /** Configuration as Code: installs the plugin; its sources and the credentials its YAML defines. */
  jcasc: cascSeed.optional(),
  /** The Jenkins URL (Manage Jenkins » System): absolute URLs in the JSON API, and the issuer of ID tokens. */
  rootUrl: z.string().url().optional(),
  /** The oidc-provider plugin's global configuration; installs the plugin. */
  idToken: idTokenSeed.optional(),
});

export type SeedInput = z.input<typeof seedSchema>;

export interface SeedResult {
  users: { id: string; password: string | null; apiTokens: string[]; permissions: string[] }[];
  folders: string[];
  credentials: {
    store: StoreRef;
    domain: string;
    id: string | null;
    kind: string;
    className: string;
    displayName: string;
  }[];
  jobs: { path: string; url: string }[];
  nodes: string[];
  plugins: string[];
  csrfEnabled: boolean;
}

const cascRefs = (jcasc: z.output<typeof cascSeed>) =>
  (jcasc.credentials ?? []).map((c) =>
    typeof c === 'string' ? { id: c, domain: '_' } : { id: c.id, domain: c.domain ?? '_' },
  );

/**
 * Applies a seed (validated with `seedSchema`; throws ZodError). Users, credentials (by id) and jobs (by path) are
 * created or replaced; folders a credential or job needs are created.
 */
export function applySeed(state: JenkinsState, raw: SeedInput): SeedResult {
  const input = seedSchema.parse(raw);
  // Cross-checks first, so that a seed that fails changes nothing.
  if (input.jcasc) {
    const seeded = (input.credentials ?? []).flatMap((c) => {
      if (c.store !== 'system') return [];
      const id = 'xml' in c ? credentialId(parseCredentialXml(c.xml)) : c.id;
      return id === undefined ? [] : [`${c.domain ?? '_'}/${id}`];
    });
    for (const ref of cascRefs(input.jcasc))
      if (
        !seeded.includes(`${ref.domain}/${ref.id}`) &&
        !state
          .store('system')
          .domains.get(ref.domain)
          ?.credentials.some((c) => credentialId(c) === ref.id)
      )
        throw new Error(
          `jcasc.credentials: no credential ${ref.id} in domain ${ref.domain} of the system store`,
        );
  }
  if (input.csrfEnabled !== undefined) state.csrfEnabled = input.csrfEnabled;
  if (input.extendedReadPermission !== undefined) state.toggles.extendedRead = input.extendedReadPermission;
  if (input.systemReadPermission !== undefined) state.toggles.systemRead = input.systemReadPermission;
  for (const p of input.plugins ?? []) {
    const plugin = pluginOf(typeof p === 'string' ? { shortName: p } : p);
    state.plugins.set(plugin.shortName, plugin);
  }
  if (input.awsEndpoint !== undefined) state.awsEndpoint = input.awsEndpoint;
  if (input.rootUrl !== undefined)
    state.rootUrl = input.rootUrl.endsWith('/') ? input.rootUrl : `${input.rootUrl}/`;
  if (input.idToken) {
    state.ensurePlugin(OIDC_PLUGIN);
    const t = input.idToken;
    const templates = (list: z.output<typeof claimTemplate>[]) =>
      list.map((c) => ({ name: c.name, format: c.format, type: c.type ?? 'string' }));
    if (t.tokenLifetime !== undefined) state.idTokenConfig.tokenLifetime = t.tokenLifetime;
    if (t.claimTemplates) state.idTokenConfig.claimTemplates = templates(t.claimTemplates);
    if (t.buildClaimTemplates) state.idTokenConfig.buildClaimTemplates = templates(t.buildClaimTemplates);
  }
  if (input.anonymousPermissions) state.anonymousPermissions = new Set(input.anonymousPermissions);
  const users = (input.users ?? []).map((u) => {
    const user = state.createUser(u.id, {
      ...(u.password !== undefined ? { password: u.password } : {}),
      ...(u.apiTokens ? { apiTokens: u.apiTokens } : {}),
      ...(u.permissions ? { permissions: u.permissions } : {}),
      ...(u.fullName !== undefined ? { fullName: u.fullName } : {}),
    });
    return {
      id: user.id,
      password: user.password ?? null,
      apiTokens: user.apiTokens,
      permissions: [...user.permissions],
    };
  });
  const folders = (input.folders ?? []).map((f) => {
    if (typeof f === 'string') {
      state.createFolder(f);
      return f;
    }
    const { path, ...spec } = f;
    state.createFolder(path).spec = spec;
    if (spec.env && Object.keys(spec.env).length) state.ensurePlugin('folder-properties');
    return path;
  });
  const credentials = (input.credentials ?? []).map((seed) => {
    const store: StoreRef = seed.store;
    if (store !== 'system') state.createFolder(store.folder);
    const domain = seed.domain ?? '_';
    let credential: Credential;
    if ('xml' in seed) credential = parseCredentialXml(seed.xml);
    else {
      const { store: _s, domain: _d, kind, ...fields } = seed;
      credential = constructCredential(kind, { ...fields, scope: fields.scope ?? 'GLOBAL' });
    }
    if (isIdTokenCredential(credential)) state.ensurePlugin(pluginOfClass(credential.cls));
    state.putCredential(store, credential, domain);
    const view = viewOf(credential);
    return {
      store,
      domain,
      id: view.id,
      kind: view.kind,
      className: view.className,
      displayName: view.displayName,
    };
  });
  const jobs = (input.jobs ?? []).map((spec) => {
    const job = state.createJob(spec);
    if (spec.env || spec.passwords) state.ensurePlugin('envinject');
    return { path: spec.path, url: state.absoluteUrl(itemUrl(job)) };
  });
  const nodes = (input.nodes ?? []).map((n) => {
    state.nodes.set(n.name, {
      name: n.name,
      description: n.description ?? '',
      remoteFS: n.remoteFS ?? `/home/jenkins/${n.name}`,
      numExecutors: n.numExecutors ?? 1,
      labels: n.labels ?? '',
      env: n.env ?? {},
      offline: n.offline ?? false,
    });
    return n.name;
  });
  if (input.globalEnv) state.globalEnv = input.globalEnv;
  if (input.jcasc) {
    state.ensurePlugin('configuration-as-code');
    if (input.jcasc.sources) state.casc.sources = input.jcasc.sources;
    for (const ref of cascRefs(input.jcasc)) {
      const credential = state.credential('system', ref.id, ref.domain);
      if (credential)
        state.casc.credentials.set(ref.id, {
          domain: ref.domain,
          credential: { cls: credential.cls, values: { ...credential.values } },
        });
    }
  }
  return {
    users,
    folders,
    credentials,
    jobs,
    nodes,
    plugins: [...state.plugins.keys()],
    csrfEnabled: state.csrfEnabled,
  };
}
