#!/usr/bin/env node
// Runs every test file with node's own test runner (TypeScript through tsx).
// Unit tests (packages/*/test, bench/**/*.test.ts) run in parallel; compat tests (test/compat) start real hub
// processes on the standard ports, so they run one file at a time.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
// bench/ has a few pure unit tests of its own (the peer bench's merge of its load processes).
const unit = pick([...readdirSync('packages').flatMap((p) => find(join('packages', p, 'test'))), ...find('bench')]);
const compat = pick(find(join('test', 'compat')));

// A time limit per test file, so that a hung test fails the run by its file's name instead of
// hanging it (on Node 20, --test-timeout bounds each file's process, which is then ended; each
// wait inside a test has its own, shorter deadline: docs/testing.md). Measured on the shared
// 2-core machine, 2026-12-07: the slowest unit file (store-sqlite.test.ts, three store contracts)
// took about 130 s beside another file, the slowest compat file (mqtt-raw.test.ts) 153 s.
const FILE_TIMEOUT_MS = { unit: 480_000, compat: 600_000 };

function run(files, concurrency, timeoutMs, env = process.env) {
  if (files.length === 0) return 0;
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      `--test-timeout=${timeoutMs}`,
      '--test-reporter=spec',
      ...files,
    ],
    { stdio: 'inherit', env },
  );
  return r.status ?? 1;
}

// The service SDK trusts only CAs given in NODE_EXTRA_CA_CERTS at process start, so one test CA
// is made up front and every compat hub issues its server certificate from it (harness.ts).
function compatEnv() {
  const caDir = join(tmpdir(), 'ferry-test-ca');
  const r = spawnSync(process.execPath, ['packages/cli/dist/bin.js', 'hub', 'ca', '--data-dir', caDir], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    process.stderr.write(`cannot create the test CA (did \`npx tsc --build\` run?):\n${r.stderr}`);
    process.exit(1);
  }
  return { ...process.env, NODE_EXTRA_CA_CERTS: r.stdout.trim(), FERRY_TEST_CA_DIR: caDir };
}

let status = 0;
if (only !== '--compat') status ||= run(unit, 2, FILE_TIMEOUT_MS.unit);
if (only !== '--unit' && compat.length > 0) status ||= run(compat, 1, FILE_TIMEOUT_MS.compat, compatEnv());
process.exit(status);
