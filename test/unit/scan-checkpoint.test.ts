import { describe, expect, it } from 'vitest';
import {
  checkpointValue,
  parseCheckpoint,
  resumeOrder,
  type ScanCheckpoint,
} from '../../src/scan/checkpoint';

const checkpoint = (deferred: string[]): ScanCheckpoint => ({
  version: 1,
  savedAt: '2026-06-01T12:00:00.000Z',
  stoppedBy: 'deadline',
  deferred,
  deferredCount: deferred.length,
});

describe('the scan checkpoint', () => {
  it('round-trips through its stored form', () => {
    const c = checkpoint(['k2', 'k3']);
    expect(parseCheckpoint(checkpointValue(c))).toEqual(c);
  });

  it('fits a standard SSM parameter (4 KB): a long list is shortened, its count kept', () => {
    const names = Array.from({ length: 1000 }, (_, i) => `a-rather-long-managed-key-name-${i}`);
    const value = checkpointValue(checkpoint(names));
    expect(Buffer.byteLength(value)).toBeLessThanOrEqual(4000);
    const back = parseCheckpoint(value);
    expect(back?.deferredCount).toBe(1000);
    expect(back?.deferred.length).toBeGreaterThan(10);
    expect(back?.deferred).toEqual(names.slice(0, back?.deferred.length));
  });

  it('treats anything that is not a checkpoint as none', () => {
    for (const text of [undefined, '', 'not json', '{}', '{"version":2,"savedAt":"x","deferred":[]}', '[]'])
      expect(parseCheckpoint(text)).toBeUndefined();
    expect(parseCheckpoint('{"version":1,"savedAt":"x","deferred":["a",3,null]}')).toEqual({
      version: 1,
      savedAt: 'x',
      deferred: ['a'],
      deferredCount: 1,
    });
  });

  it('puts what the last run deferred first, in its order, then the rest in plan order', () => {
    const plan = ['a', 'b', 'c', 'd', 'e'].map((key) => ({ key }));
    expect(resumeOrder(plan, checkpoint(['d', 'gone', 'b'])).map((x) => x.key)).toEqual([
      'd',
      'b',
      'a',
      'c',
      'e',
    ]);
    expect(resumeOrder(plan).map((x) => x.key)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});
