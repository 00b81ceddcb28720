import { readFile } from 'node:fs/promises';
import { formatPath, type ConfigIssue } from './errors';
import { parseSecretArn } from './schema';
import type { RotatorConfig } from './schema';

/**
 * Values copied from `config/example.json` and never replaced: the config validates, but in production the scan
 * would publish to someone else's topic and the rotator would assume roles in accounts that do not exist.
 */
export interface Placeholders {
  /** The example's account ids, plus the one AWS documentation uses everywhere. */
  readonly accountIds: ReadonlySet<string>;
  readonly snsTopicArns: ReadonlySet<string>;
  /** Host names of the example's Jenkins URLs. */
  readonly hosts: ReadonlySet<string>;
}

export const EXAMPLE_CONFIG_URL = new URL('../../config/example.json', import.meta.url);

/** AWS documentation's own placeholder account. */
const DOCUMENTATION_ACCOUNT = '123456789012';
/** Domains reserved for documentation (RFC 2606, RFC 6761): nobody's Jenkins runs there. */
const RESERVED_HOST = /(^|\.)(example\.(com|net|org)|example|invalid)$/i;
/** Words that stand for "fill this in". */
const FILL_ME_IN = /<[^<>\s]{1,40}>|\b(CHANGE_?ME|REPLACE_?ME|TODO|FIXME|XXXX+)\b/i;

/** The placeholders of an example configuration (the parsed JSON of `config/example.json`). */
export function placeholdersOf(example: unknown): Placeholders {
  const accountIds = new Set([DOCUMENTATION_ACCOUNT]);
  const hosts = new Set<string>();
  const snsTopicArns = new Set<string>();
  const walk = (value: unknown, key: string): void => {
    if (Array.isArray(value)) value.forEach((v) => walk(v, key));
    else if (value !== null && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) walk(v, k);
    else if (typeof value === 'string') {
      for (const id of value.match(/(?<!\d)\d{12}(?!\d)/g) ?? []) accountIds.add(id);
      if (key === 'snsTopicArn') snsTopicArns.add(value);
      if (key === 'url' && URL.canParse(value)) hosts.add(new URL(value).hostname.toLowerCase());
    }
  };
  walk(example, '');
  return { accountIds, snsTopicArns, hosts };
}

/** The placeholders of the project's own `config/example.json`. */
export async function examplePlaceholders(): Promise<Placeholders> {
  return placeholdersOf(JSON.parse(await readFile(EXAMPLE_CONFIG_URL, 'utf8')) as unknown);
}

const accountOfArn = (arn: string | undefined): string | undefined => arn?.split(':')[4];

/** One warning per value left from the example (or plainly a placeholder), with its path. */
export function placeholderWarnings(config: RotatorConfig, p: Placeholders): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const warn = (path: string, message: string) => out.push({ path, message });
  const account = (path: string, id: string | undefined, what: string) => {
    if (id === undefined || !p.accountIds.has(id)) return;
    const whose = id === DOCUMENTATION_ACCOUNT ? "AWS documentation's" : "config/example.json's";
    warn(path, `${what} ${id} is ${whose} placeholder account id: use the real account's id`);
  };
  const { snsTopicArn, slackWebhookSecretId } = config.notifications;
  if (snsTopicArn !== undefined && p.snsTopicArns.has(snsTopicArn))
    warn(
      'notifications.snsTopicArn',
      `${snsTopicArn} is config/example.json's topic: name your own topic, or remove the field (the stack then creates one)`,
    );
  else account('notifications.snsTopicArn', accountOfArn(snsTopicArn), "the topic's account");
  if (slackWebhookSecretId !== undefined)
    account(
      'notifications.slackWebhookSecretId',
      parseSecretArn(slackWebhookSecretId)?.accountId,
      "the secret's account",
    );
  config.keys.forEach((k, i) => {
    const at = `keys[${i}]`;
    const roleAccount = accountOfArn(k.assumeRoleArn);
    account(`${at}.assumeRoleArn`, roleAccount, "the role's account");
    if (k.accountId !== roleAccount) account(`${at}.accountId`, k.accountId, 'account');
    account(`${at}.secretId`, parseSecretArn(k.secretId)?.accountId, "the secret's account");
    account(`${at}.verify.ecr.registryId`, k.verify.ecr.registryId, 'the registry');
    k.jenkins.forEach((t, j) => {
      const host = new URL(t.url).hostname.toLowerCase();
      if (p.hosts.has(host) || RESERVED_HOST.test(host))
        warn(
          `${at}.jenkins[${j}].url`,
          `${t.url} is a placeholder (${host} is ${p.hosts.has(host) ? "config/example.json's host" : 'reserved for documentation'}): use your Jenkins' URL`,
        );
      if (t.tokenSecretId !== undefined)
        account(
          `${at}.jenkins[${j}].tokenSecretId`,
          parseSecretArn(t.tokenSecretId)?.accountId,
          "the secret's account",
        );
    });
  });
  const reported = new Set(out.map((w) => w.path));
  fillMeIn(config, [], (path, value) => {
    if (!reported.has(formatPath(path)))
      warn(formatPath(path), `"${value}" looks like a placeholder to fill in`);
  });
  return out;
}

/** Calls `found` for every string in the config that reads as "fill this in". */
function fillMeIn(
  value: unknown,
  path: readonly PropertyKey[],
  found: (path: readonly PropertyKey[], value: string) => void,
): void {
  if (typeof value === 'string') {
    if (FILL_ME_IN.test(value)) found(path, value);
  } else if (Array.isArray(value)) value.forEach((v: unknown, i) => fillMeIn(v, [...path, i], found));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) fillMeIn(v, [...path, k], found);
}
