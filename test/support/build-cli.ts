/**
 * Vitest global set-up: builds the CLI (scripts/build-cli.ts) from the current source before any test runs, so the
 * tests that spawn `bin/key-rotator.js` run the same prebuilt JavaScript users run, start in a fraction of the tsx
 * time, and still test this source, never a stale build.
 */
import { buildCli } from '../../scripts/build-cli';

export default async function setup(): Promise<void> {
  await buildCli();
}
