import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import type { CredentialDocument, CredentialKind, NewCredential } from './types';

export const AWS_CREDENTIALS_CLASS = 'com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl';
export const USERNAME_PASSWORD_CLASS =
  'com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl';

const CLASS_BY_KIND: Record<CredentialKind, string> = {
  aws: AWS_CREDENTIALS_CLASS,
  usernamePassword: USERNAME_PASSWORD_CLASS,
};

/** Which elements carry the key pair, per kind (jenkins-api.md §6.1, §6.2). */
const KEY_ELEMENTS: Record<CredentialKind, { accessKey: string; secret: string }> = {
  aws: { accessKey: 'accessKey', secret: 'secretKey' },
  usernamePassword: { accessKey: 'username', secret: 'password' },
};

/** Thrown for XML that cannot be turned into a valid credential document. Messages never contain secret values. */
export class CredentialXmlError extends Error {
  override readonly name = 'CredentialXmlError';
}

export function kindOfClass(className: string): CredentialKind | 'other' {
  if (className === AWS_CREDENTIALS_CLASS) return 'aws';
  if (className === USERNAME_PASSWORD_CLASS) return 'usernamePassword';
  return 'other';
}

// XML 1.0 Char production minus what Jenkins could never store meaningfully.
// eslint-disable-next-line no-control-regex
const INVALID_XML_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

/** Escapes text for element content and double-quoted attributes; refuses characters XML 1.0 cannot carry. */
export function escapeXml(value: string): string {
  if (INVALID_XML_CHARS.test(value))
    throw new CredentialXmlError('value contains characters that XML cannot carry');
  return (
    value
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // A parser normalizes a literal CR to LF (XML 1.0 §2.11); a character reference survives.
      .replace(/\r/g, '&#13;')
  );
}

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the five predefined entities and numeric character references. */
export function decodeXmlText(raw: string): string {
  return raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    return NAMED_ENTITIES[ref] ?? whole;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Ordered XML tree. Entities are neither decoded nor re-encoded (processEntities: false), and whitespace, comments
// and CDATA are kept, so every element we do not touch is written back byte for byte (modulo `<x/>` → `<x></x>`).

type OrderedNode = Record<string, unknown>;

const FXP_OPTIONS = {
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  commentPropName: '#comment',
  cdataPropName: '#cdata',
  ignoreDeclaration: true,
  ignorePiTags: true,
} as const;

const ATTRS = ':@';

function tagOf(node: OrderedNode): string | undefined {
  return Object.keys(node).find((k) => k !== ATTRS);
}

function childrenOf(node: OrderedNode, tag: string): OrderedNode[] {
  const value = node[tag];
  return Array.isArray(value) ? (value as OrderedNode[]) : [];
}

function isElement(tag: string | undefined): tag is string {
  return tag !== undefined && !tag.startsWith('#') && !tag.startsWith('?');
}

interface ParsedRoot {
  tree: OrderedNode[];
  root: OrderedNode;
  className: string;
  children: OrderedNode[];
}

function parseRoot(xml: string): ParsedRoot {
  if (typeof xml !== 'string' || xml.trim() === '') throw new CredentialXmlError('credential XML is empty');
  if (/<!DOCTYPE/i.test(xml)) throw new CredentialXmlError('credential XML must not contain a DOCTYPE');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new CredentialXmlError(
      `credential XML is not well-formed: ${valid.err.msg} (line ${valid.err.line})`,
    );
  }
  const tree = new XMLParser(FXP_OPTIONS).parse(xml) as OrderedNode[];
  const roots = tree.filter((n) => isElement(tagOf(n)));
  const root = roots[0];
  if (roots.length !== 1 || root === undefined) {
    throw new CredentialXmlError('credential XML must have exactly one root element');
  }
  const className = tagOf(root) as string;
  return { tree, root, className, children: childrenOf(root, className) };
}

function elementChildren(children: OrderedNode[]): Array<{ tag: string; node: OrderedNode }> {
  const out: Array<{ tag: string; node: OrderedNode }> = [];
  for (const node of children) {
    const tag = tagOf(node);
    if (isElement(tag)) out.push({ tag, node });
  }
  return out;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** Decoded text of an element that holds only text/CDATA, or undefined if it has child elements. */
function textContent(node: OrderedNode, tag: string): string | undefined {
  let text = '';
  for (const child of childrenOf(node, tag)) {
    const t = tagOf(child);
    if (t === '#text') text += decodeXmlText(str(child[t]));
    else if (t === '#cdata')
      text += childrenOf(child, t)
        .map((c) => str(c['#text']))
        .join('');
    else if (t === '#comment') continue;
    else return undefined;
  }
  return text;
}

function isRedacted(node: OrderedNode, tag: string): boolean {
  return childrenOf(node, tag).some((c) => tagOf(c) === 'secret-redacted');
}

/** Parses a credential's config.xml into its visible fields. Secrets are redacted by Jenkins and never returned. */
export function parseCredentialXml(xml: string): CredentialDocument {
  const { className, children } = parseRoot(xml);
  const kind = kindOfClass(className);
  const fields: Record<string, string> = {};
  const redacted: string[] = [];
  for (const { tag, node } of elementChildren(children)) {
    if (isRedacted(node, tag)) {
      redacted.push(tag);
      continue;
    }
    const text = textContent(node, tag);
    if (text !== undefined && !(tag in fields)) fields[tag] = text;
  }
  const accessKeyField = kind === 'other' ? undefined : KEY_ELEMENTS[kind].accessKey;
  return {
    xml,
    className,
    kind,
    id: fields['id'],
    scope: fields['scope'],
    description: fields['description'],
    accessKeyId: accessKeyField === undefined ? undefined : fields[accessKeyField],
    fields,
    redacted,
  };
}

export interface KeyPair {
  accessKeyId: string;
  secretAccessKey: string;
}

function checkKey(key: KeyPair): void {
  if (typeof key.accessKeyId !== 'string' || !/^\S+$/.test(key.accessKeyId)) {
    throw new CredentialXmlError('access key id must be a non-empty string without whitespace');
  }
  // Jenkins stores the element text verbatim (§4.5, §9.7): surrounding whitespace would become part of the secret.
  if (typeof key.secretAccessKey !== 'string' || !/^\S(?:.*\S)?$/s.test(key.secretAccessKey)) {
    throw new CredentialXmlError('secret access key must be non-empty, without surrounding whitespace');
  }
}

function textNode(value: string): OrderedNode[] {
  return [{ '#text': escapeXml(value) }];
}

/** Re-quote attribute values: with processEntities off they are raw and may hold a '"' from a '…' attribute. */
function requoteAttributes(nodes: OrderedNode[]): void {
  for (const node of nodes) {
    const attrs = node[ATTRS] as Record<string, unknown> | undefined;
    if (attrs) {
      for (const [name, value] of Object.entries(attrs)) {
        if (typeof value === 'string') attrs[name] = value.replace(/"/g, '&quot;');
      }
    }
    const tag = tagOf(node);
    if (isElement(tag)) requoteAttributes(childrenOf(node, tag));
  }
}

/**
 * Returns the complete credential document with the key pair replaced. Every other element (scope, description,
 * IAM role fields, stsTokenDuration, usernameSecret, elements this code does not know) stays as it was, in order;
 * the redacted secret element is replaced by the new plaintext secret, which Jenkins encrypts on receipt.
 */
export function replaceKeyInXml(xml: string, kind: CredentialKind, key: KeyPair): string {
  checkKey(key);
  const { root, className, children } = parseRoot(xml);
  const expected = CLASS_BY_KIND[kind];
  if (className !== expected) {
    throw new CredentialXmlError(`credential is a ${className}, expected ${expected} for kind '${kind}'`);
  }
  const names = KEY_ELEMENTS[kind];
  const elements = elementChildren(children);
  for (const required of ['id', names.accessKey, names.secret]) {
    const count = elements.filter((e) => e.tag === required).length;
    if (count !== 1) {
      throw new CredentialXmlError(
        count === 0
          ? `credential XML lacks the <${required}> element`
          : `credential XML has ${count} <${required}> elements`,
      );
    }
  }
  for (const { tag, node } of elements) {
    if (tag === names.accessKey) node[tag] = textNode(key.accessKeyId);
    else if (tag === names.secret) node[tag] = textNode(key.secretAccessKey);
  }
  const out = [root];
  requoteAttributes(out);
  return new XMLBuilder({ ...FXP_OPTIONS, format: false, suppressEmptyNode: false }).build(out);
}

function element(name: string, value: string): string {
  return `  <${name}>${escapeXml(value)}</${name}>\n`;
}

/** The XML body for createCredentials (§4.7, §6). Always carries `<id>`; no whitespace inside text elements. */
export function newCredentialXml(doc: NewCredential): string {
  checkKey(doc);
  if (doc.id === '') throw new CredentialXmlError('credential id must not be empty');
  const cls = CLASS_BY_KIND[doc.kind];
  if (cls === undefined) throw new CredentialXmlError(`unknown credential kind ${JSON.stringify(doc.kind)}`);
  let body =
    element('scope', doc.scope ?? 'GLOBAL') +
    element('id', doc.id) +
    element('description', doc.description ?? '');
  if (doc.kind === 'aws') {
    body +=
      element('accessKey', doc.accessKeyId) +
      element('secretKey', doc.secretAccessKey) +
      element('iamRoleArn', doc.iamRoleArn ?? '') +
      element('iamExternalId', '') +
      element('iamMfaSerialNumber', '');
  } else {
    if (doc.iamRoleArn !== undefined) {
      throw new CredentialXmlError('iamRoleArn applies to AWS credentials only');
    }
    body +=
      element('username', doc.accessKeyId) +
      element('password', doc.secretAccessKey) +
      element('usernameSecret', 'false');
  }
  return `<${cls}>\n${body}</${cls}>\n`;
}
