import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/setup.ts'],
    // The CLI's build from this source, which the tests that spawn bin/key-rotator.js run.
    globalSetup: ['test/support/build-cli.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Console output of passing tests is dropped (setup.ts does the same for direct writes): a failing test shows
    // its own. TEST_LOGS=show keeps everything.
    silent: process.env['TEST_LOGS'] === 'show' ? false : 'passed-only',
    // The lockfile pins SDK versions that support Node 20; the SDK's notice about future versions is noise here.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
