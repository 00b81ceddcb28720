import { randomUUID } from 'node:crypto';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { loadPrivateKey, newPrivateKey } from './oidc-keys';

export type CredentialKind = 'aws' | 'usernamePassword' | 'string' | 'idToken' | 'idTokenFile';
export type CredentialScope = 'GLOBAL' | 'SYSTEM' | 'USER';
type FieldType = 'string' | 'secret' | 'scope' | 'integer' | 'boolean';
export type FieldValue = string | number | boolean;

export interface CredentialField {
  name: string;
  type: FieldType;
  /** A @DataBoundSetter with Util.fixEmpty: the UI path leaves the field null when blank (the XML path does not). */
  fixEmpty?: true;
  /** Made by the constructor, never bound from a form or a seed (the ID-token key pair). */
  generate?: () => string;
  /** Never leaves Jenkins: no JCasC attribute, not shown by `/_localcloud/state` (redacted/encrypted like any Secret). */
  internal?: true;
}

export interface CredentialClass {
  kind: CredentialKind;
  /** The Java class name (form submissions' `$class`). */
  className: string;
  /** The XStream element name: the class name with `_` doubled and `$` as `_-` (XmlFriendlyNameCoder). */
  element: string;
  /** `shortName@version` written as the root's `plugin` attribute on GET (jenkins-api.md §4.4). */
  plugin: string;
  /** The descriptor display name, exported as `typeName` (§4.3). */
  typeName: string;
  /** Serialization order: superclass fields first (§4.4, §6). */
  fields: readonly CredentialField[];
  /** readResolve after unmarshalling: throws the message of what Jenkins would fail with. */
  readResolve?: (values: Readonly<Record<string, FieldValue>>) => void;
}

/** XStream's XmlFriendlyNameCoder: `$` → `_-`, `_` → `__`. */
export const xstreamElement = (className: string): string =>
  className.replace(/_/g, '__').replace(/\$/g, '_-');

/** Decoding an element name: `_-` → `$`, `__` → `_`, a lone `_` stays. */
export const xstreamClassName = (element: string): string =>
  element.replace(/_-|__/g, (m) => (m === '_-' ? '$' : '_'));

const BASE_FIELDS = [
  { name: 'scope', type: 'scope' },
  { name: 'id', type: 'string' },
  { name: 'description', type: 'string' },
] as const;

export const AWS_CLASS: CredentialClass = {
  kind: 'aws',
  className: 'com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl',
  element: 'com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl',
  plugin: 'aws-credentials@262.v0efb_28f71f94',
  typeName: 'AWS Credentials',
  fields: [
    ...BASE_FIELDS,
    { name: 'accessKey', type: 'string' },
    { name: 'secretKey', type: 'secret' },
    { name: 'iamRoleArn', type: 'string' },
    { name: 'iamExternalId', type: 'string' },
    { name: 'iamMfaSerialNumber', type: 'string' },
    { name: 'stsTokenDuration', type: 'integer' },
  ],
};

export const USERNAME_PASSWORD_CLASS: CredentialClass = {
  kind: 'usernamePassword',
  className: 'com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl',
  element: 'com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl',
  plugin: 'credentials@1502.v5c95e620ddfe',
  typeName: 'Username with password',
  fields: [
    ...BASE_FIELDS,
    { name: 'username', type: 'string' },
    { name: 'password', type: 'secret' },
    { name: 'usernameSecret', type: 'boolean' },
  ],
};

export const STRING_CLASS: CredentialClass = {
  kind: 'string',
  className: 'org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl',
  element: 'org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl',
  plugin: 'plain-credentials@195.vb_906e9073dee',
  typeName: 'Secret text',
  fields: [...BASE_FIELDS, { name: 'secret', type: 'secret' }],
};

/**
 * IdTokenCredentials (BaseStandardCredentials): `privateKey` a Secret holding the base64 PKCS#8 RSA private key made
 * by the constructor, `issuer` and `audience` strings set through fixEmpty setters. readResolve rebuilds the key pair
 * from `privateKey`, so a document without a readable one fails (NullPointerException, InvalidKeySpecException).
 */
const idTokenClass = (
  kind: 'idToken' | 'idTokenFile',
  simpleName: string,
  typeName: string,
): CredentialClass => {
  const className = `io.jenkins.plugins.oidc_provider.${simpleName}`;
  return {
    kind,
    className,
    element: xstreamElement(className),
    plugin: 'oidc-provider@170.v15f73e25a_e28',
    typeName,
    fields: [
      ...BASE_FIELDS,
      { name: 'privateKey', type: 'secret', generate: newPrivateKey, internal: true },
      { name: 'issuer', type: 'string', fixEmpty: true },
      { name: 'audience', type: 'string', fixEmpty: true },
    ],
    readResolve: (values) => {
      const key = values['privateKey'];
      loadPrivateKey(typeof key === 'string' ? key : undefined);
    },
  };
};

export const ID_TOKEN_CLASS = idTokenClass('idToken', 'IdTokenStringCredentials', 'OpenID Connect id token');
export const ID_TOKEN_FILE_CLASS = idTokenClass(
  'idTokenFile',
  'IdTokenFileCredentials',
  'OpenID Connect id token as file',
);

export const CREDENTIAL_CLASSES: readonly CredentialClass[] = [
  AWS_CLASS,
  USERNAME_PASSWORD_CLASS,
  STRING_CLASS,
  ID_TOKEN_CLASS,
  ID_TOKEN_FILE_CLASS,
];

/** The plugin a credential class comes from (`aws-credentials`, `oidc-provider`, …). */
export const pluginOfClass = (cls: CredentialClass): string => cls.plugin.split('@')[0] ?? 'credentials';

export const classOfKind = (kind: CredentialKind): CredentialClass =>
  CREDENTIAL_CLASSES.find((c) => c.kind === kind) ?? AWS_CLASS;

/**
 * One stored credential. `values` holds only non-null fields (Jenkins omits null fields on output); secrets are
 * plaintext, as Jenkins holds them in memory.
 */
export interface Credential {
  cls: CredentialClass;
  values: Record<string, FieldValue>;
}

/** What Jenkins turns into a 500 "Oops" page (an unhandled exception): bad XML, unknown class, ID mismatch, ... */
export class CredentialDocumentError extends Error {
  override readonly name = 'CredentialDocumentError';
}

export function credentialId(c: Credential): string | undefined {
  const id = c.values['id'];
  return typeof id === 'string' ? id : undefined;
}

const str = (c: Credential, field: string): string | undefined => {
  const v = c.values[field];
  return typeof v === 'string' ? v : undefined;
};

/** Util.fixEmptyAndTrim */
const fixEmptyAndTrim = (s: string | undefined): string | undefined => {
  const t = s?.trim();
  return t ? t : undefined;
};

const isUuid = (s: string | undefined): boolean =>
  s !== undefined && /^[0-9a-f]{1,8}-[0-9a-f]{1,4}-[0-9a-f]{1,4}-[0-9a-f]{1,4}-[0-9a-f]{1,12}$/i.test(s);

/** CredentialsNameProvider per class (§4.3): what the listing exports as `displayName`. */
export function displayName(c: Credential): string {
  const description = fixEmptyAndTrim(str(c, 'description'));
  const suffix = description !== undefined ? ` (${description})` : '';
  switch (c.cls.kind) {
    case 'aws': {
      const accessKey = str(c, 'accessKey') ?? 'null';
      const role = str(c, 'iamRoleArn');
      return (role && role.trim() ? `${accessKey}:${role}` : accessKey) + suffix;
    }
    case 'usernamePassword':
      return `${str(c, 'username') ?? 'null'}/******${suffix}`;
    case 'string':
    case 'idToken': {
      // StringCredentials.NameProvider
      const id = credentialId(c);
      return description ?? (id !== undefined && !isUuid(id) ? id : 'Secret text');
    }
    case 'idTokenFile':
      // FileCredentials.NameProvider, getFileName() being "id_token"
      return `id_token${suffix}`;
  }
}

/** The plaintext key pair a job would bind from this credential, if it holds one. */
export function awsKeyPair(c: Credential): { accessKeyId: string; secretAccessKey: string } | undefined {
  if (c.cls.kind === 'aws')
    return { accessKeyId: str(c, 'accessKey') ?? '', secretAccessKey: str(c, 'secretKey') ?? '' };
  if (c.cls.kind === 'usernamePassword')
    return { accessKeyId: str(c, 'username') ?? '', secretAccessKey: str(c, 'password') ?? '' };
  return undefined;
}

/** Every secret value of the credential (for console masking). */
export function secretsOf(c: Credential): string[] {
  return c.cls.fields
    .filter((f) => f.type === 'secret')
    .map((f) => c.values[f.name])
    .filter((v): v is string => typeof v === 'string' && v.length > 0);
}

// --- XML output -------------------------------------------------------------------------------------------------

// XStream's PrettyPrintWriter escapes these in text (and '\r' as a character reference).
export function escapeXmlText(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\r/g, '&#xd;');
}

/**
 * The SECRETS_REDACTED XStream output of GET config.xml: no XML declaration, `plugin` attribute on the root, two-space
 * indentation, null fields omitted, every Secret as `<secret-redacted/>` (§4.4).
 */
export function toRedactedXml(c: Credential): string {
  const lines = [`<${c.cls.element} plugin="${escapeXmlText(c.cls.plugin)}">`];
  for (const f of c.cls.fields) {
    const v = c.values[f.name];
    if (v === undefined) continue;
    if (f.type === 'secret') lines.push(`  <${f.name}>`, '    <secret-redacted/>', `  </${f.name}>`);
    else lines.push(`  <${f.name}>${escapeXmlText(String(v))}</${f.name}>`);
  }
  lines.push(`</${c.cls.element}>`);
  return lines.join('\n');
}

// --- XML input --------------------------------------------------------------------------------------------------

type OrderedNode = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  cdataPropName: '#cdata',
  commentPropName: '#comment',
  ignoreDeclaration: true,
  ignorePiTags: true,
});

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(raw: string): string {
  return raw.replace(/&([^;&\s]*);?/g, (whole, ref: string) => {
    if (!whole.endsWith(';'))
      throw new CredentialDocumentError('Failed to parse credential: bare "&" in content');
    const hex = /^#x([0-9a-fA-F]+)$/.exec(ref);
    const dec = /^#([0-9]+)$/.exec(ref);
    const code =
      hex?.[1] !== undefined ? parseInt(hex[1], 16) : dec?.[1] !== undefined ? parseInt(dec[1], 10) : -1;
    if (code >= 0) {
      if (code > 0x10ffff)
        throw new CredentialDocumentError('Failed to parse credential: invalid character reference');
      return String.fromCodePoint(code);
    }
    const named = PREDEFINED[ref];
    if (named === undefined)
      throw new CredentialDocumentError(
        `Failed to parse credential: entity "${ref}" was referenced but not declared`,
      );
    return named;
  });
}

const tagOf = (node: OrderedNode): string | undefined => Object.keys(node).find((k) => k !== ':@');

const childrenOf = (node: OrderedNode, tag: string): OrderedNode[] => {
  const c = node[tag];
  return Array.isArray(c) ? (c as OrderedNode[]) : [];
};

const textOf = (node: OrderedNode): string => {
  const t = node['#text'];
  return typeof t === 'string' || typeof t === 'number' ? String(t) : '';
};

/**
 * XStream's `reader.getValue()`: the text (and CDATA) before the first child element, comments skipped, verbatim
 * (no trimming). So `<secretKey><secret-redacted/></secretKey>` reads as "" (§4.5 round-trip hazard).
 */
function elementValue(children: OrderedNode[]): string {
  let value = '';
  for (const child of children) {
    const tag = tagOf(child);
    if (tag === '#text') value += decodeEntities(textOf(child));
    else if (tag === '#cdata') value += childrenOf(child, '#cdata').map(textOf).join('');
    else if (tag === '#comment') continue;
    else break;
  }
  return value;
}

function parseDocument(xml: string): { tag: string; children: OrderedNode[] } {
  // XMLUtils.safeTransform disallows DOCTYPE declarations (and so every DTD and external entity).
  if (/<!DOCTYPE/i.test(xml))
    throw new CredentialDocumentError('Failed to parse credential: DOCTYPE is disallowed');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new CredentialDocumentError(`Failed to parse credential: ${valid.err.msg}`);
  const nodes = parser.parse(xml) as OrderedNode[];
  const elements = nodes.filter((n) => {
    const tag = tagOf(n);
    if (tag === '#text') {
      if (textOf(n).trim() !== '')
        throw new CredentialDocumentError('Failed to parse credential: content outside root');
      return false;
    }
    return tag !== '#comment' && tag !== undefined;
  });
  const root = elements[0];
  const tag = root && tagOf(root);
  if (!root || !tag) throw new CredentialDocumentError('Failed to parse credential: Premature end of file.');
  if (elements.length > 1)
    throw new CredentialDocumentError('Failed to parse credential: markup after the root element');
  return { tag, children: childrenOf(root, tag) };
}

function convert(type: FieldType, text: string): FieldValue | undefined {
  switch (type) {
    case 'string':
    case 'secret':
      return text;
    case 'scope':
      return text === 'GLOBAL' || text === 'SYSTEM' || text === 'USER' ? text : undefined;
    case 'integer': {
      if (!/^[-+]?\d+$/.test(text)) return undefined;
      const n = Number(text);
      return n >= -2147483648 && n <= 2147483647 ? n : undefined;
    }
    case 'boolean':
      return text.toLowerCase() === 'true';
  }
}

/**
 * Items.XSTREAM.unmarshal of a credential document (§4.5, §4.7): the root names the class (XStream-encoded, see
 * xstreamClassName) among those of the installed plugins (`classes`); known child elements are read by field type;
 * unknown children and unconvertible values are ignored (RobustReflectionConverter); omitted fields stay null; then the
 * class' readResolve runs. Throws CredentialDocumentError for what Jenkins answers with 500.
 */
export function parseCredentialXml(
  xml: string,
  classes: readonly CredentialClass[] = CREDENTIAL_CLASSES,
): Credential {
  const { tag, children } = parseDocument(xml);
  const cls = classes.find((c) => c.className === xstreamClassName(tag));
  if (!cls)
    throw new CredentialDocumentError(`com.thoughtworks.xstream.mapper.CannotResolveClassException: ${tag}`);
  const values: Record<string, FieldValue> = {};
  for (const child of children) {
    const name = tagOf(child);
    const field = cls.fields.find((f) => f.name === name);
    if (!field || !name) continue;
    const value = convert(field.type, elementValue(childrenOf(child, name)));
    if (value !== undefined) values[field.name] = value;
  }
  try {
    cls.readResolve?.(values);
  } catch (err) {
    throw new CredentialDocumentError(
      `com.thoughtworks.xstream.converters.ConversionException: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return { cls, values };
}

// --- constructor-style creation (seeding, form submissions) -----------------------------------------------------

export interface CredentialInit {
  scope?: CredentialScope | undefined;
  id?: string | undefined;
  description?: string | undefined;
  [field: string]: FieldValue | undefined;
}

/**
 * What the class' @DataBoundConstructor and setters produce (the UI path): blank id → random UUID, null strings → "",
 * blank fixEmpty fields → null, `usernameSecret` false by default, `stsTokenDuration` null when it equals the default
 * 3600, a new key pair for an ID-token credential.
 */
export function constructCredential(kind: CredentialKind, init: CredentialInit): Credential {
  const cls = classOfKind(kind);
  const values: Record<string, FieldValue> = {};
  for (const f of cls.fields) {
    const v = init[f.name];
    if (f.generate) {
      values[f.name] = f.generate();
      continue;
    }
    if (f.fixEmpty) {
      if (v !== undefined && String(v) !== '') values[f.name] = String(v);
      continue;
    }
    switch (f.type) {
      case 'scope':
        if (v === 'GLOBAL' || v === 'SYSTEM' || v === 'USER') values[f.name] = v;
        break;
      case 'integer':
        if (typeof v === 'number' && Number.isInteger(v) && !(f.name === 'stsTokenDuration' && v === 3600))
          values[f.name] = v;
        break;
      case 'boolean':
        values[f.name] = v === true || v === 'true';
        break;
      default:
        values[f.name] = v === undefined ? '' : String(v);
    }
  }
  const id = values['id'];
  if (typeof id !== 'string' || id.trim() === '') values['id'] = randomUUID();
  return { cls, values };
}

/**
 * Binds the `credentials` object of a form-mode createCredentials submission (`$class` or `stapler-class`, a class of
 * an installed plugin).
 */
export function credentialFromForm(
  json: unknown,
  classes: readonly CredentialClass[] = CREDENTIAL_CLASSES,
): Credential {
  const obj = (
    json && typeof json === 'object' ? (json as Record<string, unknown>)['credentials'] : undefined
  ) as Record<string, unknown> | undefined;
  if (!obj || typeof obj !== 'object')
    throw new CredentialDocumentError('net.sf.json.JSONException: no credentials');
  const className = obj['$class'] ?? obj['stapler-class'];
  const cls = classes.find((c) => c.className === className);
  if (!cls) throw new CredentialDocumentError(`java.lang.ClassNotFoundException: ${String(className)}`);
  const init: CredentialInit = {};
  for (const f of cls.fields) {
    const v = obj[f.name];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') init[f.name] = v;
  }
  if (typeof init['stsTokenDuration'] === 'string')
    init['stsTokenDuration'] = Number(init['stsTokenDuration']);
  return constructCredential(cls.kind, init);
}
