/**
 * A small model of Stapler's export machinery (`…/api/json`): beans with `_class` and properties that carry an
 * @Exported visibility, pruned either by `depth` or by a `tree` expression.
 */

export type Exported = string | number | boolean | null | Bean | ExportMap | Exported[];

export interface Property {
  name: string;
  value: Exported;
  /** @Exported(visibility); default 1. */
  visibility: number;
  /** @Exported(inline=true): the value's properties count as being at this property's depth. */
  inline?: boolean;
}

export class Bean {
  /** `_class`, omitted when Stapler would not write it (the element type equals the declared type). */
  readonly cls: string | undefined;
  readonly props: Property[];
  constructor(cls: string | undefined, props: Property[]) {
    this.cls = cls;
    this.props = props;
  }
}

/** A `Map<String, …>` property: a JSON object keyed by the map's keys. */
export class ExportMap {
  readonly entries: [string, Exported][];
  constructor(entries: [string, Exported][]) {
    this.entries = entries;
  }
}

/** `bean(cls, { name: value, other: { v: value, vis: visibility, inline? } })` */
export function bean(
  cls: string | undefined,
  props: Record<string, Exported | { v: Exported; vis: number; inline?: boolean }>,
): Bean {
  return new Bean(
    cls,
    Object.entries(props).map(([name, p]) =>
      p !== null && typeof p === 'object' && 'vis' in p && 'v' in p
        ? { name, value: p.v, visibility: p.vis, ...(p.inline ? { inline: true } : {}) }
        : { name, value: p, visibility: 1 },
    ),
  );
}

interface Pruner {
  /** The pruner for the property's value, or undefined to leave the property out. */
  accept(prop: Property): { child: Pruner; range?: Range } | undefined;
}

interface Range {
  min: number;
  max: number;
}

/** TreePruner.ByDepth: Api uses `new ByDepth(1 - depth)`. */
class ByDepth implements Pruner {
  private readonly n: number;
  constructor(n: number) {
    this.n = n;
  }
  accept(prop: Property) {
    if (prop.visibility < this.n) return undefined;
    return { child: prop.inline ? this : new ByDepth(this.n + 1) };
  }
}

interface TreeNode {
  children: Map<string, { node: TreeNode; range?: Range }>;
}

class ByTree implements Pruner {
  private readonly node: TreeNode;
  constructor(node: TreeNode) {
    this.node = node;
  }
  accept(prop: Property) {
    const c = this.node.children.get(prop.name);
    return c ? { child: new ByTree(c.node), ...(c.range ? { range: c.range } : {}) } : undefined;
  }
}

export class TreeSyntaxError extends Error {
  override readonly name = 'TreeSyntaxError';
}

/** Parses NamedPathPruner syntax: `a,b[c,d[e]]{0,10}`. */
export function parseTree(spec: string): TreeNode {
  let i = 0;
  const parseList = (): TreeNode => {
    const node: TreeNode = { children: new Map() };
    for (;;) {
      const start = i;
      while (i < spec.length && !'[]{},'.includes(spec[i] ?? '')) i++;
      const name = spec.slice(start, i).trim();
      if (!name) throw new TreeSyntaxError(`Expected a property name at ${start} in "${spec}"`);
      let child: TreeNode = { children: new Map() };
      let range: Range | undefined;
      if (spec[i] === '[') {
        i++;
        child = parseList();
        if (spec[i] !== ']') throw new TreeSyntaxError(`Expected "]" at ${i} in "${spec}"`);
        i++;
      }
      if (spec[i] === '{') {
        const end = spec.indexOf('}', i);
        if (end < 0) throw new TreeSyntaxError(`Expected "}" in "${spec}"`);
        range = parseRange(spec.slice(i + 1, end));
        i = end + 1;
      }
      node.children.set(name, { node: child, ...(range ? { range } : {}) });
      if (spec[i] !== ',') return node;
      i++;
    }
  };
  const tree = parseList();
  if (i !== spec.length) throw new TreeSyntaxError(`Unexpected "${spec[i] ?? ''}" at ${i} in "${spec}"`);
  return tree;
}

function parseRange(s: string): Range {
  const m = /^\s*(\d*)\s*(,?)\s*(\d*)\s*$/.exec(s);
  if (!m) throw new TreeSyntaxError(`Bad range {${s}}`);
  const [, a = '', comma = '', b = ''] = m;
  if (!comma) {
    const n = Number(a);
    return { min: n, max: n + 1 };
  }
  return { min: a ? Number(a) : 0, max: b ? Number(b) : Number.MAX_SAFE_INTEGER };
}

function write(value: Exported, pruner: Pruner, range?: Range): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const items = range ? value.slice(range.min, range.max) : value;
    return items.map((v) => write(v, pruner));
  }
  if (value instanceof ExportMap)
    return Object.fromEntries(value.entries.map(([k, v]) => [k, write(v, pruner)]));
  const out: Record<string, unknown> = {};
  if (value.cls !== undefined) out['_class'] = value.cls;
  for (const prop of value.props) {
    const accepted = pruner.accept(prop);
    if (accepted) out[prop.name] = write(prop.value, accepted.child, accepted.range);
  }
  return out;
}

/** Api.doJson: `tree` wins over `depth` (default 0). Throws TreeSyntaxError for a malformed `tree`. */
export function exportJson(root: Bean, query: URLSearchParams): unknown {
  const tree = query.get('tree');
  if (tree !== null) return write(root, new ByTree(parseTree(tree)));
  const depth = Number.parseInt(query.get('depth') ?? '0', 10);
  return write(root, new ByDepth(1 - (Number.isFinite(depth) ? depth : 0)));
}
