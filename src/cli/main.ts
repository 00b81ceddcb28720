/**
 * `key-rotator`: the operator CLI (bin/key-rotator.js runs its build, dist/cli/main.js; `npm run cli --` runs this
 * file through tsx). Runs one command, flushes its output, and exits with the command's code (0 ok, 1 failed,
 * 2 usage). Help, version and usage errors are answered by the front (front.ts) without loading the rest; a command
 * loads run.ts (the AWS SDK, the engine) on demand.
 */
import { answerFront } from './front';
import type { CliIo } from './io';
import { quietSdkNodeNotice } from './node-support';

// The SDK's 9-line Node.js notice on every command is noise: `key-rotator doctor` says it once (node-support.ts).
quietSdkNodeNotice();

const write = (stream: NodeJS.WriteStream) => (text: string) => {
  stream.write(text);
};

const io: CliIo = {
  out: write(process.stdout),
  err: write(process.stderr),
  errIsTTY: process.stderr.isTTY === true,
  outIsTTY: process.stdout.isTTY === true,
  env: process.env,
  cwd: process.cwd(),
  stdin: process.stdin,
  trapInterrupt(onFirst) {
    let count = 0;
    const handler = () => {
      count += 1;
      if (count === 1) onFirst();
      else process.exit(130);
    };
    process.on('SIGINT', handler);
    return () => process.off('SIGINT', handler);
  },
};

const front = answerFront(process.argv.slice(2), io);
const code = 'code' in front ? front.code : await (await import('./run')).runCommand(front.line, io);
// Wait until everything written has been flushed (pipes are asynchronous on some platforms), then exit even if a
// keep-alive socket would hold the process.
await Promise.all(
  [process.stdout, process.stderr].map((s) => new Promise<void>((r) => s.write('', () => r()))),
);
process.exit(code);
