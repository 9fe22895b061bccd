#!/usr/bin/env node
// Entry point of the facegate executable: runs main() and turns its result into an exit code.
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`facegate: internal error: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 70; // EX_SOFTWARE: a bug, not bad input
  },
);
