import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildAudit, formatAudit } from '../../src/cli/audit';
import { colorEnabled, colorsFor, paintMessages, PLAIN } from '../../src/cli/colors';
import { DEFAULT_CHECKS, DEFAULT_FLEET, DEFAULT_POLICY, type RotatorConfig } from '../../src/config';
import type { Inventory } from '../../src/scan';

const ESC = '\u001b[';
const strip = stripVTControlCharacters;

describe('colorEnabled', () => {
  it('colours a terminal only, unless NO_COLOR or FORCE_COLOR say otherwise', () => {
    expect(colorEnabled(true, {})).toBe(true);
    expect(colorEnabled(false, {})).toBe(false);
    expect(colorEnabled(undefined, {})).toBe(false);
    expect(colorEnabled(true, { TERM: 'dumb' })).toBe(false);
  });

  it('NO_COLOR with any non-empty value turns colour off, even with FORCE_COLOR; empty is as if unset', () => {
    for (const v of ['1', 'true', '0', 'no'])
      expect(colorEnabled(true, { NO_COLOR: v, FORCE_COLOR: '1' }), `NO_COLOR=${v}`).toBe(false);
    expect(colorEnabled(true, { NO_COLOR: '' })).toBe(true);
  });

  it('FORCE_COLOR turns colour on for a pipe, and off ("0", "false") for a terminal', () => {
    for (const v of ['1', '2', '3', 'true', ''])
      expect(colorEnabled(false, { FORCE_COLOR: v }), `FORCE_COLOR=${v}`).toBe(true);
    expect(colorEnabled(true, { FORCE_COLOR: '0' })).toBe(false);
    expect(colorEnabled(true, { FORCE_COLOR: 'false' })).toBe(false);
  });
});

describe('coloured output', () => {
  const NOW = new Date('2025-06-01T12:00:00Z');
  // No configuration: every key unmanaged, judged by the default max age (as audit without a file).
  const config: RotatorConfig = {
    version: 1,
    defaults: DEFAULT_POLICY,
    notifications: {},
    checks: DEFAULT_CHECKS,
    fleet: DEFAULT_FLEET,
    keys: [],
  };
  const inventory: Inventory = {
    takenAt: NOW,
    accountId: '111122223333',
    source: 'list',
    problems: [],
    users: [
      {
        userName: 'legacy-ci',
        path: '/',
        arn: 'arn:aws:iam::111122223333:user/legacy-ci',
        accountId: '111122223333',
        keys: [
          { accessKeyId: 'AKIALEGACYLEGACYLEG1', status: 'Active', createDate: NOW, ageDays: 120 },
          { accessKeyId: 'AKIALEGACYLEGACYLEG2', status: 'Inactive', createDate: NOW, ageDays: 3 },
        ],
      },
    ],
  };
  const report = buildAudit(inventory, config);

  it('the audit table: STALE in red, aligned exactly as the plain table once the colour is removed', () => {
    const plain = formatAudit(report);
    const coloured = formatAudit(report, colorsFor(true, {}));
    expect(plain).not.toContain(ESC);
    expect(coloured).toContain(`${ESC}31mSTALE`);
    expect(strip(coloured)).toBe(plain);
    expect(formatAudit(report, colorsFor(false, {}))).toBe(plain);
  });

  it('error and warning prefixes on stderr', () => {
    const c = colorsFor(true, {});
    const text = 'key-rotator: error: it failed\nkey-rotator: warning: careful\nother\n';
    expect(strip(paintMessages(text, c))).toBe(text);
    expect(paintMessages(text, c)).toContain(`${ESC}31mkey-rotator: error:`);
    expect(paintMessages(text, c)).toContain(`${ESC}33mkey-rotator: warning:`);
    expect(paintMessages(text, PLAIN)).toBe(text);
  });
});
