#!/usr/bin/env node
// Runs every test file with node's own test runner (TypeScript through tsx).
// Unit tests (packages/*/test) run in parallel; compat tests (test/compat) start real hub
// processes on the standard ports, so they run one file at a time.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const only = args.find((a) => a === '--unit' || a === '--compat');
const filters = args.filter((a) => !a.startsWith('--'));

function find(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (e === 'node_modules' || e === 'dist') continue;
    if (statSync(p).isDirectory()) out = out.concat(find(p));
    else if (e.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

const pick = (files) => (filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files);
const unit = pick(readdirSync('packages').flatMap((p) => find(join('packages', p, 'test'))));
const compat = pick(find(join('test', 'compat')));

function run(files, concurrency) {
  if (files.length === 0) return 0;
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
    { stdio: 'inherit' },
  );
  return r.status ?? 1;
}

let status = 0;
if (only !== '--compat') status ||= run(unit, 2);
if (only !== '--unit') status ||= run(compat, 1);
process.exit(status);
