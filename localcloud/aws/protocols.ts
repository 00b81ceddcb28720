import type { ServerResponse } from 'node:http';
import { XMLBuilder } from 'fast-xml-parser';
import type { AwsError } from './errors';

/** Flat form parameters of an AWS Query request (`Action=...&Tags.member.1.Key=...`). */
export type QueryParams = Record<string, string>;

export function parseForm(body: string): QueryParams {
  const out: QueryParams = {};
  for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  return out;
}

/** Reads `Prefix.member.N[.Field]` lists of an AWS Query request. */
export function queryList(params: QueryParams, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; params[`${prefix}.member.${i}`] !== undefined; i++)
    out.push(params[`${prefix}.member.${i}`]!);
  return out;
}

export function queryStructList<K extends string>(
  params: QueryParams,
  prefix: string,
  fields: readonly K[],
): Record<K, string | undefined>[] {
  const out: Record<K, string | undefined>[] = [];
  for (let i = 1; fields.some((f) => params[`${prefix}.member.${i}.${f}`] !== undefined); i++) {
    const item = {} as Record<K, string | undefined>;
    for (const f of fields) item[f] = params[`${prefix}.member.${i}.${f}`];
    out.push(item);
  }
  return out;
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@' });

/**
 * An XML document from a tree of plain objects (fast-xml-parser's builder: text and attribute values escaped;
 * keys starting with `@` are attributes), with the XML declaration when `declaration` is set.
 */
export function buildXml(root: Record<string, unknown>, declaration = false): string {
  const xml: string = builder.build(root);
  return declaration ? `<?xml version="1.0" encoding="UTF-8"?>\n${xml}` : xml;
}

/** A value as the AWS Query protocol serializes it: lists as `<member>` children, dates as ISO 8601 to the second. */
export function queryXmlNode(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (Array.isArray(value)) return { member: value.map(queryXmlNode) };
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== null) out[k] = queryXmlNode(v);
    return out;
  }
  return value;
}

export const XMLNS: Record<string, string> = {
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
  sns: 'http://sns.amazonaws.com/doc/2010-03-31/',
};

export function sendQueryResult(
  res: ServerResponse,
  service: string,
  action: string,
  result: Record<string, unknown> | undefined,
  requestId: string,
): void {
  const body = buildXml({
    [`${action}Response`]: {
      '@xmlns': XMLNS[service] ?? '',
      ...(result === undefined ? {} : { [`${action}Result`]: queryXmlNode(result) }),
      ResponseMetadata: { RequestId: requestId },
    },
  });
  res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
  res.end(body);
}

export function sendQueryError(res: ServerResponse, service: string, err: AwsError, requestId: string): void {
  const body = buildXml({
    ErrorResponse: {
      '@xmlns': XMLNS[service] ?? '',
      Error: { Type: err.type, Code: err.code, Message: err.message },
      RequestId: requestId,
    },
  });
  res.writeHead(err.status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
  res.end(body);
}

/** JSON 1.1 (Secrets Manager, ECR): numbers for timestamps (epoch seconds), `__type` on errors. */
export function toJsonValue(value: unknown): unknown {
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJsonValue(v);
    return out;
  }
  return value;
}

export function sendJsonResult(res: ServerResponse, result: unknown, requestId: string): void {
  res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId });
  res.end(JSON.stringify(toJsonValue(result ?? {})));
}

export function sendJsonError(res: ServerResponse, err: AwsError, requestId: string): void {
  res.writeHead(err.status, {
    'content-type': 'application/x-amz-json-1.1',
    'x-amzn-requestid': requestId,
    'x-amzn-errortype': err.code,
  });
  res.end(JSON.stringify({ __type: err.code, message: err.message }));
}
