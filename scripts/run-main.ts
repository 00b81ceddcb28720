/** Runs a script's main(): exit 0 when it returns true, 1 when false or when it throws (one line on stderr). */
export function runMain(name: string, main: () => Promise<boolean>): void {
  main().then(
    (ok) => process.exit(ok ? 0 : 1),
    (err: unknown) => {
      process.stderr.write(`${name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
