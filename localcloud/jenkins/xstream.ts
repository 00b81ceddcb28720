/**
 * A small model of what Jenkins' XStream2 writes (`Items.XSTREAM2.toXMLUTF8`, `Jenkins.XSTREAM2.toXMLUTF8`): the
 * `<?xml version="1.1" encoding="UTF-8"?>` declaration, two-space indentation, `<x></x>` for an empty string, `<x/>`
 * for an empty collection or a bean without fields, null fields left out, and the `plugin="name@version"` attribute on
 * objects whose class comes from a plugin.
 */
import { escapeXmlText } from './credentials';

export interface XNode {
  tag: string;
  attrs?: Record<string, string>;
  /** Element text; '' writes `<x></x>`. */
  text?: string;
  children?: XNode[];
}

/** `x('name', 'text')`, `x('name', [children])`, `x('name')` (empty), with attributes as the last argument. */
export function x(tag: string, content?: string | XNode[], attrs?: Record<string, string>): XNode {
  return {
    tag,
    ...(attrs ? { attrs } : {}),
    ...(typeof content === 'string' ? { text: content } : content ? { children: content } : {}),
  };
}

/** A field that is null in Jenkins is not written at all. */
export const opt = (tag: string, value: string | undefined): XNode[] =>
  value === undefined ? [] : [x(tag, value)];

const escapeAttr = (s: string): string => escapeXmlText(s);

function write(node: XNode, indent: string, out: string[]): void {
  const attrs = Object.entries(node.attrs ?? {})
    .map(([k, v]) => ` ${k}="${escapeAttr(v)}"`)
    .join('');
  if (node.text !== undefined) {
    out.push(`${indent}<${node.tag}${attrs}>${escapeXmlText(node.text)}</${node.tag}>`);
    return;
  }
  const children = node.children ?? [];
  if (children.length === 0) {
    out.push(`${indent}<${node.tag}${attrs}/>`);
    return;
  }
  out.push(`${indent}<${node.tag}${attrs}>`);
  for (const c of children) write(c, `${indent}  `, out);
  out.push(`${indent}</${node.tag}>`);
}

/** XStream2.toXMLUTF8: declaration, then the document (no trailing newline). */
export function toXmlDocument(root: XNode): string {
  const out = ['<?xml version="1.1" encoding="UTF-8"?>'];
  write(root, '', out);
  return out.join('\n');
}

/** Without the declaration (a fragment, as nested in a larger document). */
export function toXmlFragment(root: XNode): string {
  const out: string[] = [];
  write(root, '', out);
  return out.join('\n');
}

/**
 * String.CASE_INSENSITIVE_ORDER, the comparator of hudson.EnvVars (a TreeMap): keys that differ only in case are one
 * variable (the later value wins), and iteration is in this order.
 */
export function caseInsensitiveCompare(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c1 = a[i] ?? '';
    const c2 = b[i] ?? '';
    if (c1 === c2) continue;
    const u1 = c1.toUpperCase();
    const u2 = c2.toUpperCase();
    if (u1 === u2) continue;
    const l1 = u1.toLowerCase().charCodeAt(0);
    const l2 = u2.toLowerCase().charCodeAt(0);
    if (l1 !== l2) return l1 - l2;
  }
  return a.length - b.length;
}

/** The entries an EnvVars built from `vars` holds, in its iteration order. */
export function envVarsEntries(vars: Readonly<Record<string, string>>): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(vars)) {
    const at = out.findIndex(([key]) => caseInsensitiveCompare(key, k) === 0);
    if (at >= 0) out[at] = [out[at]?.[0] ?? k, v];
    else out.push([k, v]);
  }
  return out.sort(([a], [b]) => caseInsensitiveCompare(a, b));
}

/**
 * `hudson.slaves.EnvironmentVariablesNodeProperty` with its `envVars` field: EnvVars extends TreeMap, which XStream
 * writes through the serializable converter (TreeMap.writeObject): `serialization="custom"`, the comparator, the size,
 * then key and value strings in turn.
 */
export function envVarsNodeProperty(vars: Readonly<Record<string, string>>): XNode {
  const entries = envVarsEntries(vars);
  return x('hudson.slaves.EnvironmentVariablesNodeProperty', [
    x(
      'envVars',
      [
        x('unserializable-parents'),
        x('tree-map', [
          x('default', [x('comparator', undefined, { class: 'java.lang.String$CaseInsensitiveComparator' })]),
          x('int', String(entries.length)),
          ...entries.flatMap(([k, v]) => [x('string', k), x('string', v)]),
        ]),
      ],
      { serialization: 'custom' },
    ),
  ]);
}
