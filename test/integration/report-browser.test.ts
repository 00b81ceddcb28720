import { accessSync, constants } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminEnv, runCli } from '../support/cli';
import { reportScenario, type ReportScenario } from '../support/report-scenario';

/**
 * The key report in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core, which
 * downloads no browser of its own) opens the file `key-rotator report --html` wrote from the demo seed with some
 * history, from a file:// URL, with JavaScript turned off. It checks what a person sees: the rows, the chart's
 * marks where their age puts them against their rotation line, the due dates, both colour schemes, what a
 * screen reader is told; that nothing but the file is requested and nothing is logged as an error. The
 * screenshots are left in test-output/ (report.png, report-dark.png), with the page (report.html).
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUTPUT = join(ROOT, 'test-output');
const DAY = 86_400_000;

const executable = (file: string) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The browser: $CHROMIUM_PATH, else Debian's chromium. A missing browser fails the test, saying how to get one. */
function chromiumPath(): string {
  const named = process.env['CHROMIUM_PATH'];
  if (named) {
    if (executable(named)) return named;
    throw new Error(`CHROMIUM_PATH is ${named}, which is not an executable file`);
  }
  const found = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(executable);
  if (found) return found;
  throw new Error(
    'Chromium is not installed, and this test needs a real browser: install it with `apt-get install -y chromium` ' +
      '(Debian/Ubuntu; .ci/run does it when it is missing), or set CHROMIUM_PATH to a Chromium or Chrome executable',
  );
}

let s: ReportScenario;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let fileUrl: string;
const requests: string[] = [];
const errors: string[] = [];

beforeAll(async () => {
  const executablePath = chromiumPath();
  s = await reportScenario();
  await mkdir(OUTPUT, { recursive: true });
  const file = join(OUTPUT, 'report.html');
  await rm(file, { force: true });
  const r = await runCli(
    ['report', '--html', file, '--config', s.configPath, '--endpoint', s.cloud.aws.url],
    { env: adminEnv(s.cloud.aws.admin), cwd: s.dir },
  );
  if (r.code !== 0) throw new Error(`key-rotator report failed: ${r.stderr}`);
  fileUrl = pathToFileURL(file).href;
  browser = await chromium.launch({ executablePath, headless: true });
  // No JavaScript: the page must not need any (the test's own queries run in Playwright's isolated world).
  context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('request', (req) => requests.push(req.url()));
  page.on('requestfailed', (req) => errors.push(`request failed: ${req.url()}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  await page.goto(fileUrl, { waitUntil: 'load' });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await s?.cloud.close();
  if (s) await rm(s.dir, { recursive: true, force: true });
});

/** The IAM keys of the account, read from the emulator itself (not from the report). */
function iamKeys() {
  const state = s.cloud.aws.state;
  const acct = state.defaultAccountId;
  return ['ci-legacy', 'jenkins-dev', 'jenkins-prod', 'localcloud-admin'].flatMap((user) =>
    state.keysOf(acct, user).map((k) => ({
      user,
      accessKeyId: k.accessKeyId,
      status: k.status,
      ageDays: Math.floor((state.now() - k.createDate) / DAY),
      // IAM answers CreateDate to the second; the due date is CreateDate + the 90-day line.
      due: new Date(Math.floor(k.createDate / 1000) * 1000 + 90 * DAY).toISOString().slice(0, 10),
    })),
  );
}

describe('the key report in headless Chromium', () => {
  it('loads from file:// without JavaScript, requests nothing but the file, and logs no error', () => {
    expect(page.url()).toBe(fileUrl);
    expect(requests).toEqual([fileUrl]);
    expect(errors).toEqual([]);
  });

  it('shows one row per access key with its due date and state', async () => {
    const table = page.getByRole('table', { name: /access keys of \d+ users/ });
    const keys = iamKeys();
    expect(await table.getByRole('row').count()).toBe(keys.length + 1);
    for (const k of keys) {
      const row = table
        .getByRole('row')
        .filter({ has: page.getByRole('rowheader', { name: k.accessKeyId }) });
      const cells = await row.getByRole('cell').allInnerTexts();
      // User, managed by, status, age, line, due, last used, state (the key id is the row header).
      expect(cells[0], k.accessKeyId).toBe(k.user);
      expect(cells[2]).toBe(k.status);
      expect(cells[3]).toBe(String(k.ageDays));
      expect(cells[4]).toBe('90');
      if (k.status === 'Active') expect(cells[5]).toBe(k.due);
      else expect(cells[5]).toMatch(/^deleted after \d{4}-\d{2}-\d{2}$/);
    }
    const state = async (id: string) =>
      (
        await table
          .getByRole('row')
          .filter({ has: page.getByRole('rowheader', { name: id }) })
          .getByRole('cell')
          .allInnerTexts()
      ).at(-1);
    expect(await state(s.ids.legacy)).toBe('STALE, 110 days over');
    expect(await state(s.ids.prodNew)).toBe('ok');
    expect(await state(s.ids.prodOld)).toBe('inactive');
  });

  it('draws one mark per key, at its age, against its own rotation line', async () => {
    const chart = page.getByRole('img', { name: 'Age of each access key against its rotation line' });
    expect(await chart.count()).toBe(1);
    const zero = await page.locator('svg.chart line.axis-zero').boundingBox();
    const centre = (box: { x: number; width: number } | null) => (box ? box.x + box.width / 2 : NaN);
    const marks = [];
    for (const g of await page.locator('svg.chart g.mark').all()) {
      const dot = await g.locator('.dot').boundingBox();
      marks.push({
        key: (await g.getAttribute('data-key')) ?? '',
        age: Number(await g.getAttribute('data-age')),
        maxAge: Number(await g.getAttribute('data-max-age')),
        due: await g.getAttribute('data-due'),
        state: await g.getAttribute('class'),
        shape: (await g.locator('path.dot').count()) ? 'path' : 'circle',
        dotX: centre(dot),
        limitX: centre(await g.locator('.limit').boundingBox()),
        zeroX: centre(zero),
        visible: (dot?.width ?? 0) > 0 && (dot?.height ?? 0) > 0,
      });
    }
    const keys = iamKeys();
    expect(marks.map((m) => m.key).sort()).toEqual(keys.map((k) => k.accessKeyId).sort());
    for (const m of marks) {
      const k = keys.find((x) => x.accessKeyId === m.key)!;
      expect(m.visible, m.key).toBe(true);
      expect(m.age).toBe(k.ageDays);
      expect(m.maxAge).toBe(90);
      expect(m.due).toBe(k.status === 'Active' ? k.due : null);
      // Where the browser drew them: the mark's distance from 0 over the line's is its age over its line.
      const drawn = (m.dotX - m.zeroX) / (m.limitX - m.zeroX);
      expect(drawn, m.key).toBeCloseTo(m.age / m.maxAge, 1);
      if (m.age > m.maxAge) expect(m.dotX).toBeGreaterThan(m.limitX);
      if (m.age < m.maxAge) expect(m.dotX).toBeLessThan(m.limitX);
    }
    // The most urgent first: the stale key, as a diamond.
    expect(marks[0]).toMatchObject({ key: s.ids.legacy, state: 'mark state-stale', shape: 'path' });
  });

  it('gives a screen reader the sections, the tables, the chart and its description', async () => {
    const h2 = await page.getByRole('heading', { level: 2 }).allInnerTexts();
    expect(h2).toEqual([
      'Summary',
      'Rotation problems',
      'Key ages against the rotation line',
      'Access keys',
      'Rotation history',
      'Timeline',
      'Security findings',
    ]);
    expect(await page.getByRole('heading', { level: 3, name: 'prod-ecr-push' }).count()).toBe(1);
    expect(
      await page
        .getByRole('table', { name: 'The keys of prod-ecr-push, newest first: when each came and went.' })
        .count(),
    ).toBe(1);
    expect(await page.getByRole('navigation', { name: 'Sections' }).getByRole('link').count()).toBe(6);
    const snapshot = await page.getByRole('main').ariaSnapshot();
    expect(snapshot).toContain('img "Age of each access key against its rotation line"');
    const describedBy = await page.locator('svg.chart').getAttribute('aria-describedby');
    const description = await page.locator(`[id="${describedBy ?? ''}"]`).textContent();
    expect(description).toContain(`1 key past their rotation line: ci-legacy ${s.ids.legacy}: 200 days old`);
    // The history and the problem with its fix are there as text.
    expect(await page.getByText(`a rotation is unfinished`).first().isVisible()).toBe(true);
    expect(await page.getByText('key-rotator rotate jenkins-dev --resume').first().isVisible()).toBe(true);
  });

  it('renders the light and the dark colour scheme, and saves both screenshots', async () => {
    // Computed in the page (string functions: this file is not compiled with the DOM's types).
    const style = async (selector: string, property: string) =>
      String(
        await page.evaluate(
          `getComputedStyle(document.querySelector(${JSON.stringify(selector)})).${property}`,
        ),
      );
    const colours = async () => ({
      background: await style('body', 'backgroundColor'),
      text: await style('body', 'color'),
      stale: await style('svg.chart .state-stale .dot', 'fill'),
    });
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await colours();
    await page.screenshot({ path: join(OUTPUT, 'report.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await colours();
    await page.screenshot({ path: join(OUTPUT, 'report-dark.png'), fullPage: true });
    expect(light).toEqual({
      background: 'rgb(255, 255, 255)',
      text: 'rgb(31, 35, 40)',
      stale: 'rgb(207, 34, 46)',
    });
    expect(dark).toEqual({
      background: 'rgb(13, 17, 23)',
      text: 'rgb(230, 237, 243)',
      stale: 'rgb(248, 81, 73)',
    });
    for (const f of ['report.png', 'report-dark.png'])
      expect((await stat(join(OUTPUT, f))).size).toBeGreaterThan(20_000);
    expect(requests).toEqual([fileUrl]);
    expect(errors).toEqual([]);
  });
});
