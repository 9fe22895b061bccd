#!/usr/bin/env node
// Entry point of the facegate executable: runs main() and turns its result into an exit code.
import { main } from './main.js';

// A reader that stops early (`facegate gallery list | head -1`) closes the pipe: the rest of the
// output has nowhere to go, which is no error of facegate's. Stop quietly, as `cat` would.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`facegate: internal error: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 70; // EX_SOFTWARE: a bug, not bad input
  },
);
