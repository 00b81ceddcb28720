// Shared test setup: nothing global yet beyond strictness about unhandled rejections.
process.on('unhandledRejection', (reason) => {
  throw reason instanceof Error ? reason : new Error(String(reason));
});
