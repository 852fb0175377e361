#!/usr/bin/env node
/**
 * Runs Microsoft's own Node SDK end-to-end test files (Azure/azure-iot-sdk-node, e2etests/test/)
 * unchanged against a Ferry hub started for the run, and prints mocha's pass/fail counts per file.
 * Ferry does not ship those files: put them in a directory yourself (docs/testing.md says which).
 *
 *   node scripts/ms-e2e.mjs DIR [FILE.js ...] [--address 127.0.251.7] [--store-url postgres://...]
 *                               [--keep] [--no-install] [--grep TEXT]
 *
 * DIR holds the files (the test files and their helpers testUtils.js, device_identity_helper.js,
 * rendezvous_helper.js, ...), directly or under DIR/test. The script installs their npm
 * dependencies into DIR (the official SDK packages at the versions of Ferry's devDependencies),
 * starts `ferry hub start` on its own loopback address with the standard ports (the official
 * clients force 443 for WebSocket and HTTP), makes and verifies a CA certificate for the X.509 CA
 * cases, sets the environment the files read, runs mocha on each file and stops the hub.
 * Needs `npm run build` first; binding 443 needs root or CAP_NET_BIND_SERVICE.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'packages/cli/dist/bin.js');
/** The files issues 24-27 name, in the order they run when none is given. */
const DEFAULT_FILES = [
  'twin_e2e_tests.js',
  'twin_disconnect.js',
  'device_method.js',
  'method_disconnect.js',
  'device_service.js',
  'd2c_disconnect.js',
  'job_client.js',
];
const OFFICIAL = [
  'azure-iot-common',
  'azure-iot-device',
  'azure-iot-device-amqp',
  'azure-iot-device-http',
  'azure-iot-device-mqtt',
  'azure-iothub',
];
/**
 * What the files require besides the official packages. device_service.js and d2c_disconnect.js
 * use EventHubClient.createFromIotHubConnectionString, which @azure/event-hubs dropped after 2.x
 * (e2etests/package.json asks for ^1.0.8); eventhub_receiver_helper.js wants 5.x or later.
 */
const OTHERS = [
  '@azure/event-hubs@^1.0.8',
  'async@^2.6.3',
  'chai@^4.3.3',
  'debug@^4.3.1',
  'lodash@^4.17.21',
  'mocha@^9.2.1',
  'pem@^1.14.2',
  'uuid@^8.3.2',
];
const HUB_START_TIMEOUT_MS = 30_000;
/** device_service.js, the longest, runs about 15 minutes. */
const FILE_TIMEOUT_MS = 60 * 60_000;

function parseArgs(argv) {
  const opts = { files: [], address: '127.0.251.7', install: true, keep: false, schema: `mse2e_${process.pid}` };
  const rest = [...argv];
  while (rest.length > 0) {
    const a = rest.shift();
    if (a === '--address') opts.address = rest.shift();
    else if (a === '--store-url') opts.storeUrl = rest.shift();
    else if (a === '--grep') opts.grep = rest.shift();
    else if (a === '--no-install') opts.install = false;
    else if (a === '--keep') opts.keep = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else if (!opts.dir) opts.dir = resolve(a);
    else opts.files.push(a);
  }
  if (!opts.dir) throw new Error('usage: node scripts/ms-e2e.mjs DIR [FILE.js ...] (see docs/testing.md)');
  return opts;
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...options });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout.trim();
}

function ferry(args, env) {
  return run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
}

function installDependencies(dir) {
  const ferryPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const official = OFFICIAL.map((name) => {
    const installed = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'));
    if (!ferryPackage.devDependencies[name]) throw new Error(`${name} is not a devDependency of Ferry`);
    return `${name}@${installed.version}`;
  });
  if (!existsSync(join(dir, 'package.json'))) {
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'ms-e2e-run', private: true }, null, 2)}\n`);
  }
  console.log(`installing into ${dir}: ${[...official, ...OTHERS].join(' ')}`);
  run('npm', ['install', '--no-audit', '--no-fund', ...official, ...OTHERS], { cwd: dir, stdio: 'inherit' });
}

/** Starts the hub and resolves once it printed its ready line. */
function startHub(dataDir, opts) {
  const args = [CLI, 'hub', 'start', '--data-dir', dataDir, '--host', opts.address, '--bind', opts.address];
  if (opts.storeUrl) args.push('--store-url', opts.storeUrl, '--store-schema', opts.schema);
  const env = { ...process.env, FERRY_OBSERVABILITY_PORT: '0', FERRY_LOG_LEVEL: process.env.FERRY_LOG_LEVEL ?? 'warn' };
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(join(dirname(dataDir), 'hub.log'));
  child.stderr.pipe(log);
  let printed = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start:\n${printed}`)), HUB_START_TIMEOUT_MS);
    const onData = (chunk) => {
      printed += chunk;
      if (printed.includes('Ferry hub ready')) {
        clearTimeout(timer);
        const owner = /iothubowner connection string:\s*(HostName=\S+)/.exec(printed)?.[1];
        if (owner) resolvePromise({ child, owner });
        else reject(new Error(`no iothubowner connection string in the hub's output:\n${printed}`));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => {
      printed += chunk;
    });
    child.once('exit', (code) => reject(new Error(`hub exited (${code}):\n${printed}`)));
  });
}

async function dropSchema(url, schema) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** The built-in endpoint's string (docs/telemetry.md: the hub name is the host's first label, or the IP address). */
function eventHubsConnectionString(owner) {
  const host = /HostName=([^;]+)/.exec(owner)[1];
  const key = /SharedAccessKey=([^;]+)/.exec(owner)[1];
  const hubName = isIP(host) ? host : host.split('.')[0];
  return `Endpoint=sb://${host}/;SharedAccessKeyName=iothubowner;SharedAccessKey=${key};EntityPath=${hubName}`;
}

/** Runs mocha, its output shown as it comes and kept for the summary; killed after FILE_TIMEOUT_MS. */
function runMocha(args, options) {
  const child = spawn(process.execPath, args, { ...options, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    process.stdout.write(chunk);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), FILE_TIMEOUT_MS);
  return new Promise((resolvePromise) =>
    child.once('close', (status) => {
      clearTimeout(timer);
      resolvePromise({ stdout, status });
    }),
  );
}

function mochaSummary(output) {
  const count = (word) => Number(new RegExp(`(\\d+) ${word}`).exec(output)?.[1] ?? 0);
  return { passing: count('passing'), failing: count('failing'), pending: count('pending') };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const testDir = existsSync(join(opts.dir, 'test')) ? join(opts.dir, 'test') : opts.dir;
  const files = (opts.files.length > 0 ? opts.files : DEFAULT_FILES).filter((f) => {
    const present = existsSync(join(testDir, f));
    if (!present) console.log(`skipping ${f}: not in ${testDir}`);
    return present;
  });
  if (opts.install) installDependencies(opts.dir);

  const work = mkdtempSync(join(tmpdir(), 'ferry-ms-e2e-'));
  const dataDir = join(work, 'data');
  const { child: hub, owner } = await startHub(dataDir, opts);
  const results = [];
  try {
    const caFile = join(dataDir, 'tls', 'ca.pem');
    const local = { NODE_EXTRA_CA_CERTS: caFile };
    // A verified CA for DeviceIdentityHelper.createDeviceWithX509CASignedCert (through the REST
    // API: with PostgreSQL the data directory holds no registry).
    ferry(['ca-cert', 'create-test-ca', 'e2e-ca', '--out', work], local);
    const key = ['--key', join(work, 'e2e-ca.key.pem'), '--connection-string', owner, '--ca', caFile];
    ferry(['ca-cert', 'add', 'e2e-ca', join(work, 'e2e-ca.pem'), ...key], local);
    const env = {
      ...process.env,
      ...local,
      IOTHUB_CONNECTION_STRING: owner,
      EVENTHUB_CONNECTION_STRING: eventHubsConnectionString(owner),
      IOTHUB_CA_ROOT_CERT: readFileSync(join(work, 'e2e-ca.pem')).toString('base64'),
      IOTHUB_CA_ROOT_CERT_KEY: readFileSync(join(work, 'e2e-ca.key.pem')).toString('base64'),
    };
    const mocha = join(opts.dir, 'node_modules', 'mocha', 'bin', 'mocha');
    for (const file of files) {
      console.log(`\n=== ${file}`);
      const args = [mocha, '--reporter', 'spec', '--exit', join(testDir, file)];
      if (opts.grep) args.push('--grep', opts.grep);
      const r = await runMocha(args, { cwd: opts.dir, env });
      results.push({ file, ...mochaSummary(r.stdout), status: r.status });
    }
  } finally {
    hub.kill('SIGTERM');
    await new Promise((r) => (hub.exitCode !== null ? r() : hub.once('exit', r)));
    if (opts.keep) console.log(`kept ${work} (hub.log, data)${opts.storeUrl ? ` and schema ${opts.schema}` : ''}`);
    else {
      rmSync(work, { recursive: true, force: true });
      if (opts.storeUrl) await dropSchema(opts.storeUrl, opts.schema);
    }
  }
  console.log('\n=== summary (mocha counts per file)');
  for (const r of results) {
    const ran = r.passing + r.failing + r.pending > 0;
    const counts = `${r.passing} passing, ${r.failing} failing, ${r.pending} pending`;
    console.log(`${r.file.padEnd(22)} ${ran ? counts : `did not run (mocha exit ${r.status})`}`);
  }
  process.exitCode = results.some((r) => r.failing > 0 || r.status !== 0) ? 1 : 0;
}

main().catch((err) => {
  console.error(err.message);
  process.exitCode = 2;
});
