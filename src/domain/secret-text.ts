/**
 * Secrets in free text. One detector for every place a human types text (the emergency `reason`, the
 * configuration's descriptions, user names, paths and canary parameters) and for the logger's last-line
 * redaction, so that what is refused at the door and what is scrubbed on the way out are the same thing.
 *
 * It finds a secret embedded anywhere in a text, as written or URL-encoded (`%2F`, `%3D`, also twice) or
 * JSON-escaped (`\/`, `\"`):
 * - AWS secret access keys: 40 characters of `A-Za-z0-9/+` with both letter cases (hex digests such as git
 *   SHAs have one case only; a real key lacks one with probability ~1e-9);
 * - Jenkins API tokens (`11` and 32 hex digits), Slack webhook URLs, private keys (PEM);
 * - the value of anything named like a secret: `name=value`, `name: value`, `"name": "value"`, query strings
 *   (`?password=…&`), URL-encoded (`password%3D…`), `Authorization: Basic …`.
 *
 * What it reports is the kind and the position, never the value.
 */

export type SecretKind =
  'aws-secret-access-key' | 'jenkins-api-token' | 'slack-webhook-url' | 'private-key' | 'named-secret';

export interface SecretFinding {
  readonly kind: SecretKind;
  /** Where the secret starts in the text (0-based), as written: an encoded one, where its encoding starts. */
  readonly index: number;
  /** For `named-secret`: the name it was given (`password`, `aws_secret_access_key`…); a name is no secret. */
  readonly name?: string;
  /** Found only once the text was URL-decoded or JSON-unescaped. */
  readonly encoded: boolean;
}

interface Span extends SecretFinding {
  /** Where it ends in the text (exclusive). */
  readonly end: number;
}

// ---- names -----------------------------------------------------------------------------------------------

/** Names that can only mean a secret; compared case-insensitively, ignoring `_`, `-`, `.` and spaces. */
const SECRET_NAMES = new Set([
  'token',
  'secret',
  'password',
  'passwd',
  'pwd',
  'authorization',
  'proxyauthorization',
  'awssecretaccesskey',
  'awssessiontoken',
  'xamzsecuritytoken',
]);
/** Endings that make a name a secret's (`jenkinsPassword`, `client_secret`, `DB_PASSWD`, `x-api-key`…). */
const SECRET_NAME_ENDINGS = [
  'password',
  'passwd',
  'secretaccesskey',
  'secretkey',
  'sessiontoken',
  'securitytoken',
  'apitoken',
  'apikey',
  'accesstoken',
  'refreshtoken',
  'authtoken',
  'bearertoken',
  'clientsecret',
  'privatekey',
  'webhookurl',
];

/**
 * Whether a property, parameter or `name=` name can only mean a secret (`password`, `apiToken`,
 * `aws_secret_access_key`, `DB_PASSWORD`…). Ids whose names merely mention one (`secretId`, `tokenSecretId`,
 * `clientRequestToken`, `NextToken`) are not secrets.
 */
export function isSecretName(name: string): boolean {
  const n = name.toLowerCase().replace(/[-_.\s]/g, '');
  return SECRET_NAMES.has(n) || SECRET_NAME_ENDINGS.some((e) => n.endsWith(e));
}

// ---- decoding --------------------------------------------------------------------------------------------

/** A text and, for each of its characters, the range of the original text it was decoded from (none: itself). */
interface Decoded {
  readonly text: string;
  readonly from?: readonly number[];
  readonly to?: readonly number[];
}

const ESCAPES: Record<string, string> = {
  '/': '/',
  '"': '"',
  "'": "'",
  '\\': '\\',
  n: '\n',
  r: '\r',
  t: '\t',
};
const ENCODED = /%[0-9A-Fa-f]{2}|\\[\\/"'nrtu]/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;
const HEX4 = /^[0-9A-Fa-f]{4}$/;

/** One pass of URL-decoding and JSON-unescaping, or undefined when there was nothing to decode. */
function decodeOnce(d: Decoded): Decoded | undefined {
  const { text } = d;
  if (!ENCODED.test(text)) return undefined;
  const chars: string[] = [];
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < text.length;) {
    let ch = text[i] ?? '';
    let n = 1;
    if (ch === '%' && HEX2.test(text.slice(i + 1, i + 3))) {
      ch = String.fromCharCode(parseInt(text.slice(i + 1, i + 3), 16));
      n = 3;
    } else if (ch === '\\') {
      const next = text[i + 1] ?? '';
      if (next === 'u' && HEX4.test(text.slice(i + 2, i + 6))) {
        ch = String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
        n = 6;
      } else if (ESCAPES[next] !== undefined) {
        ch = ESCAPES[next];
        n = 2;
      }
    }
    chars.push(ch);
    from.push(d.from ? (d.from[i] ?? 0) : i);
    to.push(d.to ? (d.to[i + n - 1] ?? 0) : i + n);
    i += n;
  }
  return { text: chars.join(''), from, to };
}

/** The text as written, then decoded up to three times (a value URL-encoded inside a JSON string, say). */
function variants(text: string): Decoded[] {
  const plain: Decoded = { text };
  const out = [plain];
  for (let d = decodeOnce(plain); d && out.length < 4; d = decodeOnce(d)) out.push(d);
  return out;
}

// ---- shapes ----------------------------------------------------------------------------------------------

const AWS_RUN = /[A-Za-z0-9/+]{40,}/g;
const JENKINS_TOKEN = /(?<![0-9A-Za-z])11[0-9a-f]{32}(?![0-9A-Za-z])/g;
const SLACK_WEBHOOK =
  /(?:https?:\/\/)?hooks\.slack(?:-gov)?\.com\/(?:services|workflows|triggers)\/[^\s"'<>\\]+/gi;
const PRIVATE_KEY =
  /(?:-----BEGIN [A-Z0-9 ]{0,30})?PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----|$)/g;
/**
 * `name` then `=` or `:`, the name optionally quoted (JSON). A name right after `:` is part of something else
 * (`arn:aws:secretsmanager:…:secret:jenkins/prod`).
 */
const NAME_SEP = /(?<![A-Za-z0-9_.:-])(["']?)([A-Za-z][A-Za-z0-9_.-]{0,63})\1[ \t]*([:=])[ \t]*/g;
/**
 * The value after a secret's name: double-quoted, single-quoted or bare (up to whitespace, a quote, `&` of a
 * query string, or `<>`), the last after an optional HTTP auth scheme (`Authorization: Basic …`).
 */
const VALUE =
  /"((?:[^"\\\n]|\\.){0,4096})"|'([^'\n]{0,4096})'|["']?((?:(?:basic|bearer|digest|token|negotiate|ntlm)[ \t]+)?)([^\s"'&<>]{1,1024})/iy;

const bothCases = (s: string) => /[a-z]/.test(s) && /[A-Z]/.test(s);

/** AWS secret access keys in a run of key characters: the whole run, or a `/`- or `+`-bounded part of it. */
function awsKeysIn(run: string, at: number, push: (start: number, end: number) => void): void {
  if (run.length === 40) {
    if (bothCases(run)) push(at, at + 40);
    return;
  }
  // In a longer run (a path such as gist/user/<key>, a form-encoded sentence a+b+<key>), a key is a part bounded
  // by the run's ends or by "/" or "+". Word paths can form such parts too, so these also need a digit.
  const bound = (c: string | undefined) => c === '/' || c === '+';
  for (let s = 0; s + 40 <= run.length; s++) {
    if (s > 0 && !bound(run[s - 1])) continue;
    const e = s + 40;
    if (e < run.length && !bound(run[e])) continue;
    const part = run.slice(s, e);
    if (bothCases(part) && /\d/.test(part)) push(at + s, at + e);
  }
}

/** Values that are not secrets even under a secret's name: placeholders, references and ids meant to be seen. */
const PLACEHOLDER =
  /^(?:\*+|x{3,}|\.{3}|…|<[^<>]*>|\[[^[\]]*\]|\{\{[^{}]*\}\}|\$\{[^{}]*\}|\$[A-Za-z_]\w*|%[A-Za-z_]\w*%|redacted|hidden|masked|null|none|nil|undefined|true|false|n\/a|empty|unset|required|missing)$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ARN = /^arn:aws[a-z-]*:/;
const ACCESS_KEY_ID = /^(?:AKIA|ASIA)[A-Z0-9]{16}$/;

function benignValue(value: string, prose: boolean): boolean {
  // Without what ends a sentence or a list: "token=<uuid>." or "(password: hunter2)".
  const v = value.replace(/[.,;:!?)\]}]+$/, '');
  if (v === '' || /^[[{(]/.test(v)) return true;
  if ([value, v].some((x) => PLACEHOLDER.test(x))) return true;
  if (UUID.test(v) || ARN.test(v) || ACCESS_KEY_ID.test(v)) return true;
  // "token: revoked", "password: 3 attempts": prose, not a value. "password: hunter2" is one.
  return prose && (/^[A-Za-z]+$/.test(v) || /^\d{1,5}$/.test(v));
}

/** Every secret in one (decoded) text, positions in that text. */
function scan(text: string): Omit<Span, 'encoded'>[] {
  const found: Omit<Span, 'encoded'>[] = [];
  for (const m of text.matchAll(AWS_RUN))
    awsKeysIn(m[0], m.index, (index, end) => found.push({ kind: 'aws-secret-access-key', index, end }));
  for (const m of text.matchAll(JENKINS_TOKEN))
    found.push({ kind: 'jenkins-api-token', index: m.index, end: m.index + m[0].length });
  for (const m of text.matchAll(SLACK_WEBHOOK))
    found.push({ kind: 'slack-webhook-url', index: m.index, end: m.index + m[0].length });
  for (const m of text.matchAll(PRIVATE_KEY))
    found.push({ kind: 'private-key', index: m.index, end: m.index + m[0].length });
  for (const m of text.matchAll(NAME_SEP)) {
    const [head, quote = '', name = '', sep] = m;
    if (!isSecretName(name)) continue;
    const value = new RegExp(VALUE);
    value.lastIndex = m.index + head.length;
    const v = value.exec(text);
    if (!v) continue;
    const [all, dq, sq, scheme = '', bare] = v;
    const secret = dq ?? sq ?? bare ?? '';
    const prose = !quote && sep === ':' && dq === undefined && sq === undefined && !scheme;
    if (benignValue(secret, prose)) continue;
    // The value ends the match, or its closing quote does.
    const end = v.index + all.length - (dq !== undefined || sq !== undefined ? 1 : 0);
    found.push({ kind: 'named-secret', name, index: end - secret.length, end });
  }
  return found;
}

/** Every secret in `text`, as written or encoded, positions in `text`. */
function spans(text: string): Span[] {
  const out: Span[] = [];
  variants(text).forEach((d, pass) => {
    for (const s of scan(d.text))
      out.push({
        ...s,
        index: d.from?.[s.index] ?? s.index,
        end: d.to?.[s.end - 1] ?? s.end,
        encoded: pass > 0,
      });
  });
  return out;
}

const SPECIFIC: SecretKind[] = [
  'aws-secret-access-key',
  'jenkins-api-token',
  'slack-webhook-url',
  'private-key',
];
const rank = (s: Span) => (SPECIFIC.includes(s.kind) ? 0 : 2) + (s.encoded ? 1 : 0);

/**
 * The first secret in a free text, or undefined: its kind, where it starts and, for `name=value` forms, the
 * name; never the value.
 */
export function findSecretInText(text: string): SecretFinding | undefined {
  const first = spans(text).sort((a, b) => a.index - b.index || rank(a) - rank(b))[0];
  if (!first) return undefined;
  const { kind, index, name, encoded } = first;
  return { kind, index, encoded, ...(name !== undefined ? { name } : {}) };
}

const KIND_TEXT: Record<SecretKind, string> = {
  'aws-secret-access-key': 'an AWS secret access key',
  'jenkins-api-token': 'a Jenkins API token',
  'slack-webhook-url': 'a Slack webhook URL',
  'private-key': 'a private key',
  'named-secret': 'a secret',
};

/** "an AWS secret access key (URL-encoded or escaped) at character 12", "the value of password at character 3". */
export function describeSecretFinding(f: SecretFinding): string {
  const what = f.kind === 'named-secret' ? `the value of ${f.name ?? 'a secret'}` : KIND_TEXT[f.kind];
  return `${what}${f.encoded ? ' (URL-encoded or escaped)' : ''} at character ${f.index + 1}`;
}

export const REDACTED = '[redacted]';

/**
 * `text` with every secret found replaced by `[redacted]`: the whole secret for the shapes, the value for
 * `name=value` forms (the name stays readable), the encoded form for encoded ones.
 */
export function redactSecretsInText(text: string): string {
  const found = spans(text).sort((a, b) => a.index - b.index);
  if (!found.length) return text;
  let out = '';
  let at = 0;
  for (const s of found) {
    if (s.end <= at) continue;
    out += text.slice(at, Math.max(at, s.index));
    if (s.index >= at) out += REDACTED;
    at = s.end;
  }
  return out + text.slice(at);
}
