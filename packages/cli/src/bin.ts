#!/usr/bin/env node
import { basename } from 'node:path';
import { run } from './cli.js';
import { type Io, processIo } from './io.js';

/**
 * The CLI's hints name commands as `npx ferry ...`, which is right inside the checkout. Run as
 * the `ferry` that `npm install -g ./packages/cli` put on the PATH, they say `ferry ...`: outside
 * the checkout `npx ferry` would ask the registry for someone else's package of that name.
 */
function asInvoked(io: Io, script = process.argv[1] ?? ''): Io {
  const global = basename(script) === 'ferry' && !script.includes('/node_modules/.bin/');
  if (!global) return io;
  const plain = (text: string) => text.replaceAll('`npx ferry ', '`ferry ');
  return { ...io, out: (t) => io.out(plain(t)), err: (t) => io.err(plain(t)) };
}

run(process.argv.slice(2), asInvoked(processIo)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`ferry: ${String(err)}\n`);
    process.exit(1);
  },
);
