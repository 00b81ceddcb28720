/**
 * The key report as one self-contained HTML file (pure: a function of the model): inline CSS and an inline SVG
 * chart, no script, nothing loaded from anywhere (a Content-Security-Policy forbids it), so it works offline and as
 * an e-mail attachment. Semantic HTML a screen reader can follow (landmarks, headings, captioned tables with
 * header cells, the chart's text alternative), light and dark colour schemes. Ids, dates and reasons only.
 */
import { where } from '../checks/format';
import type { Finding } from '../checks/types';
import type { ReportProblem } from '../cli/problems';
import { CHART_MAX_ROWS, renderChart } from './chart';
import { day, esc, plural, relativeDays } from './escape';
import type { KeyGeneration, KeyHistory, KeyReport, ReportKey, TimelineEvent } from './model';

const CSS = `
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--panel:#f6f8fa;--border:#d1d9e0;
--ok:#1a7f37;--soon:#9a6700;--stale:#cf222e;--inactive:#818b98;--accent:#0969da;--bar:#d1d9e0}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--panel:#151b23;--border:#3d444d;
--ok:#3fb950;--soon:#d29922;--stale:#f85149;--inactive:#6e7681;--accent:#4493f8;--bar:#3d444d}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main,header.page,footer.page{max-width:1200px;margin:0 auto;padding:0 20px}
header.page{padding-top:20px}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.3em;margin:32px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--border)}
h3{font-size:1.1em;margin:24px 0 6px}
a{color:var(--accent)}
.meta,.note,caption,figcaption{color:var(--muted)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
code{overflow-wrap:anywhere}
nav ul{list-style:none;padding:0;margin:12px 0;display:flex;flex-wrap:wrap;gap:4px 16px}
dl.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:10px;margin:16px 0}
dl.tiles div{background:var(--panel);border:1px solid var(--border);border-radius:6px;padding:8px 12px}
dl.tiles dt{color:var(--muted);font-size:.85em}dl.tiles dd{margin:0;font-size:1.5em;font-weight:600}
dl.tiles dd small{font-size:.55em;font-weight:400;color:var(--muted)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
.scroll{overflow-x:auto;border:1px solid var(--border);border-radius:6px}
.scroll:focus{outline:2px solid var(--accent)}
table{border-collapse:collapse;width:100%}
caption{text-align:left;padding:6px 10px;caption-side:top}
th,td{text-align:left;padding:5px 10px;border-top:1px solid var(--border);vertical-align:top}
thead th{background:var(--panel);font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.nowrap,time,.mono{white-space:nowrap}
.state{font-weight:600}
.state-stale .state,.sev-error .sev,.sev-high .sev{color:var(--stale)}
.state-due-soon .state,.sev-warning .sev,.sev-medium .sev{color:var(--soon)}
.state-ok .state{color:var(--ok)}.state-inactive .state,.sev-info .sev,.sev-low .sev{color:var(--muted)}
tr.state-inactive td,tr.state-inactive th{color:var(--muted)}
ol.problems{padding-left:20px}ol.problems li{margin:6px 0}
ol.findings{list-style:none;padding:0}ol.findings li{border:1px solid var(--border);border-left-width:4px;border-radius:6px;padding:4px 12px;margin:10px 0}
ol.findings li.sev-high{border-left-color:var(--stale)}ol.findings li.sev-medium{border-left-color:var(--soon)}ol.findings p{margin:4px 0}
.sev{font-weight:700;text-transform:uppercase;font-size:.85em;margin-right:6px}
figure{margin:12px 0}
svg.chart{display:block;max-width:100%;height:auto;font:12px system-ui,sans-serif}
svg.chart .label{fill:var(--fg)}svg.chart .key-id{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px}
svg.chart .tick,svg.chart .axis-title,svg.chart .due{fill:var(--muted)}
svg.chart .grid{stroke:var(--border);stroke-width:1}svg.chart .axis-zero{stroke:var(--muted)}
svg.chart .bar{stroke:var(--bar);stroke-width:6;stroke-linecap:round}
svg.chart .limit{stroke:var(--fg);stroke-width:2}
svg.chart .state-ok .dot{fill:var(--ok)}svg.chart .state-due-soon .dot{fill:var(--soon)}
svg.chart .state-stale .dot{fill:var(--stale)}svg.chart .state-stale .due{fill:var(--stale)}
svg.chart .state-inactive .dot{fill:var(--bg);stroke:var(--inactive);stroke-width:2}
ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:4px 18px;margin:6px 0}
ul.legend svg{vertical-align:-2px;margin-right:4px}
.sw-ok{fill:var(--ok)}.sw-soon{fill:var(--soon)}.sw-stale{fill:var(--stale)}.sw-inactive{fill:var(--bg);stroke:var(--inactive);stroke-width:2}.sw-limit{stroke:var(--fg);stroke-width:2}
ol.timeline{list-style:none;padding:0}ol.timeline li{padding:3px 0;border-bottom:1px solid var(--border)}
ol.timeline time{display:inline-block;min-width:12em;color:var(--muted)}
.visually-hidden{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
footer.page{margin:40px auto 24px;color:var(--muted);font-size:.9em}
@media print{.scroll{overflow:visible;border:0}nav{display:none}}
`;

/** A date as `<time>`: the day, with the full instant in `datetime` and `title`. */
const time = (isoDate: string | null | undefined, none = 'never'): string =>
  isoDate
    ? `<time datetime="${esc(isoDate)}" title="${esc(isoDate.replace('T', ' ').slice(0, 19))} UTC">${esc(day(isoDate))}</time>`
    : `<span class="none">${esc(none)}</span>`;

const code = (s: string) => `<code>${esc(s)}</code>`;
const stamp = (isoDate: string) => `${isoDate.slice(0, 16).replace('T', ' ')} UTC`;

function stateText(k: ReportKey): string {
  switch (k.state) {
    case 'stale':
      return `STALE, ${plural(-(k.daysLeft ?? 0), 'day')} over`;
    case 'due-soon':
      return `due ${relativeDays(k.daysLeft ?? 0)}`;
    case 'ok':
      return 'ok';
    case 'inactive':
      return 'inactive';
  }
}

const lastUsed = (date: string | null, service: string | null) =>
  date ? `${time(date)}${service ? ` <span class="mono">${esc(service)}</span>` : ''}` : time(null);

function summary(r: KeyReport): string {
  const c = r.counts;
  const tile = (label: string, value: string, note = '') =>
    `<div><dt>${esc(label)}</dt><dd>${value}${note ? ` <small>${esc(note)}</small>` : ''}</dd></div>`;
  return (
    `<section aria-labelledby="summary-h"><h2 id="summary-h" class="visually-hidden">Summary</h2><dl class="tiles">` +
    tile('Access keys', String(c.keys), `${c.activeKeys} active, ${c.managedKeys} managed`) +
    tile('Past their rotation line', String(c.stale)) +
    tile(`Due within ${r.defaults.dueSoonDays} days`, String(c.dueSoon)) +
    tile('Rotation problems', String(c.problems), c.problems ? `${c.problemErrors} of severity error` : '') +
    (r.checks.ran
      ? tile('Security findings', String(r.checks.findings.length), `${r.checks.counts.high} high`)
      : tile('Security checks', 'not run')) +
    `</dl></section>`
  );
}

function problemItem(p: ReportProblem): string {
  const who = [
    p.key,
    p.user && p.user !== p.key ? `user ${p.user}` : null,
    !p.key && p.accountId ? `account ${p.accountId}` : null,
  ]
    .filter(Boolean)
    .join(', ');
  return (
    `<li class="sev-${esc(p.severity)}"><span class="sev">${esc(p.severity)}</span>` +
    `${who ? `<strong>${esc(who)}</strong>: ` : ''}${esc(p.message)}` +
    (p.fix ? `<br>Fix: ${code(p.fix)}` : '') +
    (p.repair
      ? `<br><span class="note">The next scheduled scan ${p.repair === 'finish' ? 'finishes' : 'abandons'} it by itself.</span>`
      : '') +
    `</li>`
  );
}

function problems(r: KeyReport): string {
  const body = r.problems.length
    ? `<p>Most severe first, each with the command that fixes it.</p><ol class="problems">${r.problems.map(problemItem).join('')}</ol>`
    : '<p>No rotation problems: every managed key’s rotation is complete, and everything could be read.</p>';
  return `<section aria-labelledby="problems-h"><h2 id="problems-h">Rotation problems</h2>${body}</section>`;
}

const swatch = (cls: string, shape: 'circle' | 'diamond' | 'line') =>
  `<svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true">${
    shape === 'circle'
      ? `<circle class="${cls}" cx="7" cy="7" r="5"/>`
      : shape === 'diamond'
        ? `<path class="${cls}" d="M7 0L14 7L7 14L0 7Z"/>`
        : `<line class="${cls}" x1="7" x2="7" y1="0" y2="14"/>`
  }</svg>`;

function chart(r: KeyReport): string {
  const drawn = r.keys.length;
  const intro = drawn
    ? `<figure>${renderChart(r.keys)}<ul class="legend" aria-label="Legend">` +
      `<li>${swatch('sw-ok', 'circle')}within its line</li>` +
      `<li>${swatch('sw-soon', 'circle')}due within ${r.defaults.dueSoonDays} days</li>` +
      `<li>${swatch('sw-stale', 'diamond')}past its line</li>` +
      `<li>${swatch('sw-inactive', 'circle')}inactive</li>` +
      `<li>${swatch('sw-limit', 'line')}rotation line (the managed key’s maxAgeDays; ${r.defaults.maxAgeDays} days for keys this tool does not manage)</li>` +
      `</ul><figcaption>Most urgent first.${drawn > CHART_MAX_ROWS ? ` The chart shows the ${CHART_MAX_ROWS} most urgent of ${drawn} keys; the table lists them all.` : ''} The <a href="#keys-h">table of access keys</a> gives the same figures as text.</figcaption></figure>`
    : '<p>No access keys.</p>';
  return `<section aria-labelledby="ages-h"><h2 id="ages-h">Key ages against the rotation line</h2>${intro}</section>`;
}

function keysTable(r: KeyReport): string {
  const multi = new Set(r.keys.map((k) => k.accountId)).size > 1;
  const head = [
    ...(multi ? ['Account'] : []),
    'User',
    'Access key',
    'Managed by',
    'Status',
    'Age (days)',
    'Rotation line (days)',
    'Due',
    'Last used',
    'State',
  ];
  const num = new Set(['Age (days)', 'Rotation line (days)']);
  const rows = r.keys
    .map(
      (k) =>
        `<tr class="state-${k.state}">` +
        (multi ? `<td class="mono">${esc(k.accountId)}</td>` : '') +
        `<td class="nowrap">${esc(k.user)}</td><th scope="row" class="mono">${esc(k.accessKeyId)}</th>` +
        `<td class="nowrap">${k.managedKey ? esc(k.managedKey) : '<span class="none">not managed</span>'}</td>` +
        `<td>${esc(k.status)}</td><td class="num">${k.ageDays}</td><td class="num">${k.maxAgeDays}</td>` +
        `<td>${k.dueDate ? time(k.dueDate) : k.deletionDue ? `deleted after ${time(k.deletionDue)}` : '–'}</td>` +
        `<td>${lastUsed(k.lastUsedDate, k.lastUsedService)}</td>` +
        `<td class="state">${esc(stateText(k))}</td></tr>`,
    )
    .join('');
  const without = r.usersWithoutKeys.length
    ? `<p class="note">${plural(r.usersWithoutKeys.length, 'user')} without an access key: ${r.usersWithoutKeys
        .map((u) => `${esc(u.user)}${u.managedKey ? ` (managed: ${esc(u.managedKey)})` : ''}`)
        .join(', ')}.</p>`
    : '';
  return (
    `<section aria-labelledby="keys-h"><h2 id="keys-h">Access keys</h2>` +
    `<div class="scroll" role="region" aria-labelledby="keys-caption" tabindex="0"><table>` +
    `<caption id="keys-caption">${plural(r.keys.length, 'access key')} of ${plural(r.counts.users, 'user')}, by user. Due: created + rotation line (active keys); STALE: active and at or past its line.</caption>` +
    `<thead><tr>${head.map((h) => `<th scope="col"${num.has(h) ? ' class="num"' : ''}>${esc(h)}</th>`).join('')}</tr></thead>` +
    `<tbody>${rows}</tbody></table></div>${without}</section>`
  );
}

const ROLE_TEXT: Record<KeyGeneration['role'], string> = {
  current: 'current (AWSCURRENT)',
  pending: 'new, rotation in flight (AWSPENDING)',
  previous: 'previous (AWSPREVIOUS)',
  superseded: 'superseded',
  unrecorded: 'not in the secret',
};

function went(g: KeyGeneration): string {
  if (g.deactivatedAt)
    return `deactivated ${time(g.deactivatedAt)}${g.status === 'deleted' ? ', since deleted' : g.deletionDue ? `; deleted after ${time(g.deletionDue)}` : ''}`;
  if (g.status === 'deleted') return 'deleted';
  if (g.status === 'Inactive') return 'deactivated (not recorded by the rotator)';
  if (g.status === 'unknown') return '<span class="none">unknown</span>';
  if (g.role === 'pending') return '<span class="none">not in use yet: its rotation has not finished</span>';
  if (g.role === 'unrecorded') return 'active, but no secret stage holds it';
  return '<span class="none">in use</span>';
}

function generationsTable(h: KeyHistory, id: string): string {
  if (!h.generations.length) return '<p>No key is known for it.</p>';
  const rows = h.generations
    .map(
      (g) =>
        `<tr><th scope="row" class="mono">${g.accessKeyId ? esc(g.accessKeyId) : '<span class="none">no key yet</span>'}</th>` +
        `<td>${esc(ROLE_TEXT[g.role])}</td>` +
        `<td>${time(g.createdAt ?? g.storedAt, 'unknown')}${g.versionId ? ` <span class="note">version <span class="mono">${esc(g.versionId.slice(0, 8))}</span></span>` : ''}</td>` +
        `<td>${went(g)}</td><td>${esc(g.status)}</td>` +
        `<td>${lastUsed(g.lastUsedDate, g.lastUsedService)}</td></tr>`,
    )
    .join('');
  return (
    `<div class="scroll" role="region" aria-labelledby="${id}-caption" tabindex="0"><table>` +
    `<caption id="${id}-caption">The keys of ${esc(h.key)}, newest first: when each came and went.</caption>` +
    `<thead><tr><th scope="col">Access key</th><th scope="col">Role</th><th scope="col">Came</th><th scope="col">Went</th><th scope="col">Status now</th><th scope="col">Last used</th></tr></thead>` +
    `<tbody>${rows}</tbody></table></div>`
  );
}

function history(h: KeyHistory, i: number): string {
  const id = `history-${i}`;
  const current = h.generations.find((g) => g.role === 'current');
  const facts: [string, string][] = [
    ['IAM user', esc(h.user) + (h.accountId ? ` <span class="note">account ${esc(h.accountId)}</span>` : '')],
    ['Secret', code(h.secretId)],
    ['Rotation line', `${h.maxAgeDays} days; a deactivated key is deleted ${h.deleteAfterDays} days later`],
    [
      'Rotated by',
      h.keylessSince
        ? `nobody: keyless since ${time(h.keylessSince)} (its jobs use Jenkins ID tokens exchanged with STS); an active access key on this user is a high finding of the scan`
        : h.rotatedBy === 'self'
          ? 'its own job next to Jenkins (self-rotate)'
          : 'the scheduled scan, through Secrets Manager',
    ],
    ...(h.rotatedBy === 'lambda' && h.rotationConfigured !== null
      ? ([
          [
            'Rotation function on the secret',
            h.rotationConfigured ? 'set' : 'not set yet (the scan sets it)',
          ],
        ] as [string, string][])
      : []),
    [
      'Current key',
      current?.accessKeyId
        ? `<span class="mono">${esc(current.accessKeyId)}</span>, since ${time(current.createdAt ?? current.storedAt, 'unknown')}`
        : '<span class="none">unknown</span>',
    ],
    ['Last rotation through Secrets Manager', time(h.lastRotatedDate)],
    [
      'Rotation in flight',
      h.inFlight
        ? `since ${time(h.inFlight.startedAt, 'unknown')}, version <span class="mono">${esc(h.inFlight.versionId)}</span>${h.inFlight.accessKeyId ? `, new key <span class="mono">${esc(h.inFlight.accessKeyId)}</span>` : ', no key created yet'}`
        : 'none',
    ],
  ];
  const attempts = h.attempts.length
    ? `<p>Rotation attempts recorded on the user:</p><ul>${h.attempts
        .map(
          (a) =>
            `<li><span class="mono">${esc(a.id)}</span> (${esc(a.mode)}), started ${time(a.startedAt)}: ${a.live ? `running, its lease ends ${esc(stamp(a.leaseUntil))}` : 'its lease is over: it stopped before it finished'}</li>`,
        )
        .join('')}</ul>`
    : '';
  const versions = h.error
    ? `<p class="sev-error"><span class="sev">error</span>${esc(h.error)}</p>`
    : h.versionsOmitted
      ? `<p class="note">The ${h.versions - h.versionsOmitted} newest of ${h.versions} secret versions are shown.</p>`
      : '';
  const own = h.problems.length
    ? `<p>Problems:</p><ol class="problems">${h.problems.map(problemItem).join('')}</ol>`
    : '';
  return (
    `<section aria-labelledby="${id}-h"><h3 id="${id}-h">${esc(h.key)}</h3>` +
    `<dl class="facts">${facts.map(([t, d]) => `<dt>${esc(t)}</dt><dd>${d}</dd>`).join('')}</dl>` +
    own +
    generationsTable(h, id) +
    versions +
    attempts +
    `</section>`
  );
}

function histories(r: KeyReport): string {
  const body = r.histories.length
    ? `<p>From Secrets Manager’s versions of each managed key’s secret (their stages and dates; only the access key id is read from each) and the rotator’s tags on the IAM user.</p>${r.histories.map(history).join('')}`
    : `<p>No managed keys${r.configFile ? '' : ': no configuration was given, so every key is shown as not managed'}.</p>`;
  return `<section aria-labelledby="history-h"><h2 id="history-h">Rotation history</h2>${body}</section>`;
}

function timeline(r: KeyReport): string {
  if (!r.timeline.length) return '';
  const item = (e: TimelineEvent) =>
    `<li><time datetime="${esc(e.at)}">${esc(stamp(e.at))}</time> <strong>${esc(e.key)}</strong>: ${esc(e.text)}</li>`;
  return (
    `<section aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline</h2>` +
    `<p>What happened to the managed keys, newest first.</p><ol class="timeline">${r.timeline.map(item).join('')}</ol></section>`
  );
}

function findings(r: KeyReport): string {
  const c = r.checks;
  if (!c.ran)
    return `<section aria-labelledby="findings-h"><h2 id="findings-h">Security findings</h2><p>The security checks were ${esc(c.reason.startsWith('not run') ? c.reason : `not run: ${c.reason}`)}.</p></section>`;
  const item = (f: Finding) =>
    `<li class="sev-${f.severity}"><p><span class="sev">${esc(f.severity)}</span><strong>${esc(f.title)}</strong></p>` +
    `<dl class="facts"><dt>Where</dt><dd>${esc(where(f))}</dd>` +
    (f.detail ? `<dt>Why</dt><dd>${esc(f.detail)}</dd>` : '') +
    `<dt>Fix</dt><dd>${code(f.fix)}</dd></dl></li>`;
  const list = c.findings.length
    ? `<p>${plural(c.findings.length, 'finding')}: ${c.counts.high} high, ${c.counts.medium} medium, ${c.counts.low} low; most severe first.</p>` +
      `<ol class="findings">${c.findings.map(item).join('')}</ol>`
    : '<p>No findings.</p>';
  const gaps = c.notChecked.length
    ? `<h3 id="not-checked-h">Not checked</h3><p>Not known to be clean: these could not be read.</p><ul>${c.notChecked
        .map((n) => `<li>${esc(where(n))}: ${esc(n.reason)}</li>`)
        .join('')}</ul>`
    : '';
  return (
    `<section aria-labelledby="findings-h"><h2 id="findings-h">Security findings</h2>` +
    `<p>The checks of <code>key-rotator check</code>, run ${esc(stamp(c.at))}, read-only. <code>key-rotator check --emit-policy DIR</code> writes the least-privilege policies.</p>` +
    list +
    gaps +
    `</section>`
  );
}

/** The whole page. `generator` names the tool and its version in the footer. */
export function renderReportHtml(r: KeyReport, opts: { generator?: string } = {}): string {
  const managed = r.configFile
    ? `managed keys from ${esc(r.configFile)}`
    : r.histories.length
      ? `${plural(r.histories.length, 'managed key')}`
      : 'no configuration: nothing is managed';
  const sources = `users ${r.source === 'credential-report' ? 'from the IAM credential report' : 'listed with ListUsers'}; ${managed}`;
  const nav = [
    ['problems-h', 'Rotation problems'],
    ['ages-h', 'Key ages'],
    ['keys-h', 'Access keys'],
    ['history-h', 'Rotation history'],
    ...(r.timeline.length ? [['timeline-h', 'Timeline']] : []),
    ['findings-h', 'Security findings'],
  ];
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<meta name="color-scheme" content="light dark">` +
    `<meta name="generator" content="${esc(opts.generator ?? 'jenkins-key-rotator')}">` +
    `<title>Access keys of account ${esc(r.accountId)}, ${esc(day(r.takenAt))}</title>` +
    `<style>${CSS}</style></head><body>` +
    `<header class="page"><h1>Access keys of AWS account ${esc(r.accountId)}</h1>` +
    `<p class="meta">As of ${time(r.takenAt)} ${esc(r.takenAt.slice(11, 16))} UTC; ${sources}. Dates are UTC.</p>` +
    `<nav aria-label="Sections"><ul>${nav.map(([id, t]) => `<li><a href="#${id}">${esc(t ?? '')}</a></li>`).join('')}</ul></nav></header>` +
    `<main>${summary(r)}${problems(r)}${chart(r)}${keysTable(r)}${histories(r)}${timeline(r)}${findings(r)}</main>` +
    `<footer class="page"><p>Made ${esc(stamp(r.generatedAt))} by ${esc(opts.generator ?? 'jenkins-key-rotator')} (<code>key-rotator report</code>). ` +
    `It holds key ids, dates and reasons only, never a secret value, and loads nothing from the network.</p></footer>` +
    `</body></html>\n`
  );
}
