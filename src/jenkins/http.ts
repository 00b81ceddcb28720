import { Agent as HttpsAgent } from 'node:https';
import type { AxiosInstance, AxiosStatic, CreateAxiosDefaults, RawAxiosRequestHeaders } from 'axios';
import * as z from 'zod';
import {
  classifyError,
  header,
  JenkinsError,
  JenkinsTransportError,
  looksLikeHtml,
  stripQuery,
  type HeaderBag,
} from './errors';
import { describeTlsFailure, inspectTls, isTlsErrorCode, trustedCas, type TlsInspection } from './tls';
import type { ConcurrencyGate } from './limit';
import type { JenkinsAuth } from './types';

/**
 * Which failures a request may be repeated after.
 * - `idempotent` (GET, DELETE): network errors, timeouts, 408, 429, 500, 502, 503, 504.
 * - `replace` (POST config.xml): the same set minus 500. Posting the full document again replaces the credential by
 *   id with the same content, so a repeat after a lost response is harmless; but Jenkins answers 500 to a document
 *   it rejects (bad XML, unknown class, id mismatch, §4.5), which no repeat can fix.
 * - `never` (createCredentials, buildWithParameters): not repeated, a repeat could create a second build, or turn a
 *   lost "created" into a misleading 409.
 * A 403 crumb error is handled apart: the CSRF filter rejects the POST before it runs (§1), so after fetching a
 * fresh crumb the POST is sent once more in every mode.
 */
export type RetryMode = 'idempotent' | 'replace' | 'never';

const RETRY_STATUSES: Record<RetryMode, ReadonlySet<number>> = {
  idempotent: new Set([408, 429, 500, 502, 503, 504]),
  replace: new Set([408, 429, 502, 503, 504]),
  never: new Set(),
};
const RETRY_AFTER_STATUSES = new Set([429, 503]);

/** What a 2xx body must look like; an HTML page instead is an SSO/proxy login page (§2.4). */
export type Expect = 'json' | 'xml' | 'empty' | 'any';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Relative to the base URL, already percent-encoded; may carry a query string (never shown in errors). */
  path: string;
  body?: string;
  contentType?: string;
  expect: Expect;
  retry: RetryMode;
  /** Non-2xx statuses handed back to the caller instead of thrown (e.g. 404, 409, 303). */
  pass?: readonly number[];
  /** Values to scrub from any error text, in addition to the auth secret (e.g. the new secret key). */
  sensitive?: readonly string[];
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: HeaderBag;
  body: string;
}

export interface JenkinsHttpOptions {
  baseUrl: string;
  auth: JenkinsAuth;
  timeoutMs: number;
  retries: number;
  /** Backoff: `baseMs × 2^(n-1)` with jitter, at most `maxMs`; Retry-After is honoured up to `maxRetryAfterMs`. */
  backoff?: { baseMs: number; maxMs: number; maxRetryAfterMs: number };
  /** Extra CA certificates (PEM) trusted for this controller, in addition to the public roots. */
  caCertificates?: readonly string[];
  /** The controller's shared concurrency limit: each attempt holds a slot while it is on the wire. */
  gate?: ConcurrencyGate;
}

export const XML_CONTENT_TYPE = 'application/xml; charset=utf-8';
const ACCEPT: Record<Expect, string> = {
  // Jetty renders error pages in the first Accept type it knows (§7.1): JSON, which carries a short message.
  json: 'application/json',
  xml: 'application/xml, application/json;q=0.9',
  empty: 'application/json',
  any: 'application/json',
};

const crumbSchema = z.object({ crumb: z.string().min(1), crumbRequestField: z.string().min(1) });
type Crumb = { field: string; value: string } | null;

type SendResult =
  | { ok: true; res: HttpResponse }
  | { ok: false; error: JenkinsError; retryable: boolean; retryAfterMs?: number };

const MAX_BODY_BYTES = 5 * 1024 * 1024;

/**
 * axios, loaded by the first request rather than at import: importing it loads Node's fetch implementation (undici,
 * for axios' fetch adapter, which is not used here) and TLS, about 30 ms of CPU that a cold start not talking to
 * Jenkins (createSecret, finishSecret) need not pay. docs/performance.md has the figures.
 */
let axiosLoading: Promise<AxiosStatic> | undefined;
const loadAxios = (): Promise<AxiosStatic> => (axiosLoading ??= import('axios').then((m) => m.default));

/**
 * The one axios instance for a Jenkins controller: preemptive Basic auth, explicit timeout, no redirects followed,
 * every status mapped here. Only this module sees axios; errors leave it as secret-free `JenkinsError`s.
 */
export class JenkinsHttp {
  readonly #axiosDefaults: CreateAxiosDefaults;
  #axios: AxiosInstance | undefined;
  readonly #authorization: string;
  readonly #secrets: readonly string[];
  readonly #usesCrumb: boolean;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #backoff: { baseMs: number; maxMs: number; maxRetryAfterMs: number };
  #crumb: Promise<Crumb> | undefined;
  readonly #cookies = new Map<string, string>();
  readonly #base: URL;
  readonly #ca: readonly string[] | undefined;
  readonly #extraCas: number;
  readonly #gate: ConcurrencyGate | undefined;

  constructor(opts: JenkinsHttpOptions) {
    const secret = 'apiToken' in opts.auth ? opts.auth.apiToken : opts.auth.password;
    const encoded = Buffer.from(`${opts.auth.username}:${secret}`, 'utf8').toString('base64');
    this.#authorization = `Basic ${encoded}`;
    this.#secrets = [secret, encoded];
    // With an API token Jenkins exempts the request from CSRF checks (ApiCrumbExclusion, §3.3).
    this.#usesCrumb = !('apiToken' in opts.auth);
    this.#timeoutMs = opts.timeoutMs;
    this.#retries = opts.retries;
    this.#backoff = opts.backoff ?? { baseMs: 300, maxMs: 3000, maxRetryAfterMs: 5000 };
    this.#base = new URL(opts.baseUrl);
    this.#extraCas = opts.caCertificates?.length ?? 0;
    this.#gate = opts.gate;
    this.#ca = trustedCas(opts.caCertificates ?? []);
    // This controller's own connection pool, trusting the public roots plus its configured CAs (and only this
    // client: nothing process-wide changes). Keep-alive as Node's global agent does.
    const httpsAgent =
      this.#base.protocol === 'https:'
        ? new HttpsAgent({
            keepAlive: true,
            scheduling: 'lifo',
            timeout: 5000,
            ...(this.#ca ? { ca: [...this.#ca] } : {}),
          })
        : undefined;
    this.#axiosDefaults = {
      baseURL: opts.baseUrl.replace(/\/+$/, ''),
      ...(httpsAgent ? { httpsAgent } : {}),
      timeout: opts.timeoutMs,
      maxRedirects: 0,
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      maxContentLength: MAX_BODY_BYTES,
      headers: { 'User-Agent': 'jenkins-key-rotator' },
    };
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const budget = req.retry === 'never' ? 0 : this.#retries;
    let retriesUsed = 0;
    let crumbRefreshed = false;
    for (;;) {
      const result = await this.#attempt(req);
      if (result.ok) return result.res;
      const { error } = result;
      if (error.reason === 'crumb' && this.#usesCrumb && !crumbRefreshed) {
        crumbRefreshed = true;
        this.#crumb = undefined;
        continue;
      }
      if (!result.retryable || retriesUsed >= budget) throw error;
      retriesUsed++;
      await sleep(result.retryAfterMs ?? this.#backoffMs(retriesUsed), req.signal);
      if (req.signal?.aborted) throw this.#abortedError(req);
    }
  }

  async #attempt(req: HttpRequest): Promise<SendResult> {
    const headers: RawAxiosRequestHeaders = {
      Authorization: this.#authorization,
      Accept: ACCEPT[req.expect],
    };
    if (req.body !== undefined) headers['Content-Type'] = req.contentType ?? XML_CONTENT_TYPE;
    if (req.method === 'POST' && this.#usesCrumb) {
      let crumb: Crumb;
      try {
        crumb = await this.#getCrumb(req.signal);
      } catch (e) {
        if (e instanceof JenkinsError) return { ok: false, error: e, retryable: false };
        throw e;
      }
      if (crumb) headers[crumb.field] = crumb.value;
      if (this.#cookies.size > 0) {
        headers['Cookie'] = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      }
    }
    const gate = this.#gate;
    const sent = await (gate ? gate.run(() => this.#send(req, headers)) : this.#send(req, headers));
    if (!sent.ok) return sent;
    const { res } = sent;
    if (this.#usesCrumb) this.#absorbCookies(res.headers);

    const passed = req.pass?.includes(res.status) ?? false;
    const success = res.status >= 200 && res.status < 300;
    if (success && !this.#bodyFits(req.expect, res)) {
      const c = classifyError(res.status, res.headers, req.method, res.body);
      return { ok: false, error: this.#error(req, res.status, c), retryable: false };
    }
    if (success || passed) return { ok: true, res };
    const c = classifyError(res.status, res.headers, req.method, res.body);
    const error = this.#error(req, res.status, c);
    const retryAfterMs = this.#retryAfterMs(res);
    // A server asking for a longer pause than we are willing to wait is not retried now.
    const retryable = RETRY_STATUSES[req.retry].has(res.status) && retryAfterMs !== Infinity;
    return { ok: false, error, retryable, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }

  #bodyFits(expect: Expect, res: HttpResponse): boolean {
    if (expect === 'any') return true;
    if (looksLikeHtml(res.headers, res.body)) return false;
    if (expect === 'json') {
      try {
        JSON.parse(res.body);
        return true;
      } catch {
        return false;
      }
    }
    if (expect === 'xml') return /^\s*</.test(res.body);
    return true;
  }

  /** Retry-After in ms for 429/503; Infinity when the server asks for longer than we are willing to wait. */
  #retryAfterMs(res: HttpResponse): number | undefined {
    if (!RETRY_AFTER_STATUSES.has(res.status)) return undefined;
    const value = header(res.headers, 'retry-after');
    if (value === undefined) return undefined;
    const seconds = Number(value);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
    if (!Number.isFinite(ms)) return undefined;
    return ms > this.#backoff.maxRetryAfterMs ? Infinity : Math.max(0, ms);
  }

  /** Exponential backoff with jitter and a ceiling (ky's policy, style.md §7). */
  #backoffMs(retry: number): number {
    const exp = Math.min(this.#backoff.maxMs, this.#backoff.baseMs * 2 ** (retry - 1));
    return Math.round(exp * (0.5 + Math.random() * 0.5));
  }

  async #send(req: HttpRequest, headers: RawAxiosRequestHeaders): Promise<SendResult> {
    const axios = await loadAxios();
    const client = (this.#axios ??= axios.create(this.#axiosDefaults));
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
    const onAbort = (): void => controller.abort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    if (req.signal?.aborted) controller.abort();
    try {
      const res = await client.request<unknown>({
        method: req.method,
        url: req.path,
        data: req.body,
        headers,
        signal: controller.signal,
      });
      return {
        ok: true,
        res: {
          status: res.status,
          headers: normalizeHeaders(res.headers),
          body: typeof res.data === 'string' ? res.data : '',
        },
      };
    } catch (e) {
      // The AxiosError carries config (auth header included): keep only its code.
      const code = axios.isAxiosError(e) ? e.code : undefined;
      if (req.signal?.aborted) return { ok: false, error: this.#abortedError(req), retryable: false };
      if (controller.signal.aborted || code === 'ECONNABORTED' || code === 'ETIMEDOUT') {
        const cause = new JenkinsTransportError(
          `no response within ${this.#timeoutMs} ms`,
          code ?? 'ETIMEDOUT',
        );
        const error = this.#make(req, {
          reason: 'timeout',
          detail: `no response within ${this.#timeoutMs} ms`,
          cause,
        });
        return { ok: false, error, retryable: req.retry !== 'never' };
      }
      if (code === 'ERR_BAD_RESPONSE' || code === 'ERR_FR_MAX_CONTENT_LENGTH_EXCEEDED') {
        const cause = new JenkinsTransportError('unreadable or oversized response', code);
        const error = this.#make(req, {
          reason: 'bad-response',
          detail: 'unreadable or oversized response',
          cause,
        });
        return { ok: false, error, retryable: false };
      }
      if (isTlsErrorCode(code) && code) {
        const error = this.#make(req, {
          reason: 'tls',
          detail: await this.#tlsDetail(code),
          cause: new JenkinsTransportError(`TLS failure ${code}`, code),
        });
        return { ok: false, error, retryable: false };
      }
      const cause = new JenkinsTransportError(`network error ${code ?? '(unknown)'}`, code);
      const error = this.#make(req, { reason: 'network', detail: code ?? 'network error', cause });
      return { ok: false, error, retryable: req.retry !== 'never' && axios.isAxiosError(e) };
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * What failed in a certificate or handshake error and how to fix it. A second handshake, which sends nothing (no
   * request, no credentials), reads the certificates the server presents so that the message can name them.
   */
  async #tlsDetail(code: string): Promise<string> {
    const host = this.#base.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(this.#base.port || 443);
    let inspection: TlsInspection | undefined;
    try {
      inspection = await inspectTls({ host, port, ca: this.#ca, timeoutMs: Math.min(this.#timeoutMs, 5000) });
    } catch {
      // The message is then built from the code alone.
    }
    return describeTlsFailure({ code, host, port, inspection, configuredCas: this.#extraCas }).message;
  }

  #abortedError(req: HttpRequest): JenkinsError {
    return this.#make(req, {
      reason: 'timeout',
      detail: 'aborted by the caller',
      cause: new JenkinsTransportError('aborted', 'ABORT_ERR'),
    });
  }

  #error(req: HttpRequest, status: number, c: ReturnType<typeof classifyError>): JenkinsError {
    return this.#make(req, {
      status,
      reason: c.reason,
      ...(c.requiredPermission !== undefined ? { requiredPermission: c.requiredPermission } : {}),
      ...(c.detail !== undefined ? { detail: c.detail } : {}),
    });
  }

  #make(
    req: HttpRequest,
    init: Omit<ConstructorParameters<typeof JenkinsError>[0], 'method' | 'path'>,
  ): JenkinsError {
    const scrub = (s: string): string => this.#redact(s, req.sensitive);
    return new JenkinsError({
      ...init,
      method: req.method,
      path: scrub(stripQuery(req.path)),
      ...(init.detail !== undefined ? { detail: scrub(init.detail) } : {}),
    });
  }

  /** Defence in depth: Jenkins' messages should never echo secrets, but a proxy's might. */
  #redact(text: string, extra: readonly string[] = []): string {
    let out = text;
    for (const s of [...this.#secrets, ...extra]) {
      if (s.length >= 4) out = out.split(s).join('[REDACTED]');
    }
    return out;
  }

  #getCrumb(signal?: AbortSignal): Promise<Crumb> {
    if (!this.#crumb) {
      const pending = this.#fetchCrumb(signal);
      this.#crumb = pending;
      pending.catch(() => {
        if (this.#crumb === pending) this.#crumb = undefined;
      });
    }
    return this.#crumb;
  }

  /** §3.1: the crumb is bound to the session created with it, so the session cookie is kept with it. */
  async #fetchCrumb(signal?: AbortSignal): Promise<Crumb> {
    this.#cookies.clear();
    const res = await this.request({
      method: 'GET',
      path: '/crumbIssuer/api/json',
      expect: 'json',
      retry: 'idempotent',
      pass: [404],
      ...(signal ? { signal } : {}),
    });
    // 404: CSRF protection is disabled, no crumb needed.
    if (res.status === 404) return null;
    const parsed = crumbSchema.safeParse(JSON.parse(res.body));
    if (!parsed.success) {
      throw new JenkinsError({
        method: 'GET',
        path: '/crumbIssuer/api/json',
        status: res.status,
        reason: 'bad-response',
        detail: 'crumb issuer answered without crumb/crumbRequestField',
      });
    }
    return { field: parsed.data.crumbRequestField, value: parsed.data.crumb };
  }

  #absorbCookies(headers: HeaderBag): void {
    const raw = headers['set-cookie'];
    const lines = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
    for (const line of lines) {
      const pair = line.split(';', 1)[0] ?? '';
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0\b|expires=thu, 01 jan 1970/i.test(line)) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
}

function normalizeHeaders(raw: unknown): HeaderBag {
  const out: HeaderBag = {};
  if (raw && typeof raw === 'object') {
    const source =
      'toJSON' in raw && typeof raw.toJSON === 'function' ? (raw.toJSON as () => unknown).call(raw) : raw;
    for (const [k, v] of Object.entries(source as Record<string, unknown>)) {
      if (typeof v === 'string') out[k.toLowerCase()] = v;
      else if (Array.isArray(v)) out[k.toLowerCase()] = v.map(String);
      else if (typeof v === 'number') out[k.toLowerCase()] = String(v);
    }
  }
  return out;
}

/** Resolves after `ms`, or early when `signal` aborts; the timer is always cleared. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
