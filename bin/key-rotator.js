#!/usr/bin/env node
// The `key-rotator` command: runs the TypeScript CLI (src/cli/main.ts) through tsx, so that `npx key-rotator`
// works from a checkout after `npm ci`, without a build step.
import { register } from 'tsx/esm/api';

register();
await import(new URL('../src/cli/main.ts', import.meta.url).href);
