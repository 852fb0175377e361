#!/usr/bin/env node
import { run } from './cli.js';
import { processIo } from './io.js';

run(process.argv.slice(2), processIo).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`ferry: ${String(err)}\n`);
    process.exit(1);
  },
);
