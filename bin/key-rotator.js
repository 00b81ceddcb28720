#!/usr/bin/env node
// The `key-rotator` command: runs the TypeScript CLI (src/cli/main.ts) through tsx, so that `npx key-rotator`
// works from a checkout after `npm ci`, without a build step.
import { register } from 'tsx/esm/api';

// The lockfile pins AWS SDK versions that support Node 20; their notice about future versions is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();
await import(new URL('../src/cli/main.ts', import.meta.url).href);
