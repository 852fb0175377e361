/**
 * `npm run chaos`: the fault campaign against real `ferry hub start` processes on loopback
 * addresses. (a) kill -9 rounds under mixed sends and receiving devices, (b) a fuzzer of mutated
 * recorded sessions on MQTT, AMQP, HTTPS and both WebSocket variants, (c) hostile clients while the
 * official device client is served. (b) and (c) share one hub and run at the same time. Prints one
 * table; exits 1 on any acknowledged loss, lie, hub exit or hang, socket past deadline, or missed
 * message. Without flags it is the short pass CI runs (about three minutes); docs/chaos.md gives
 * the long one.
 *
 *   --seed N        random choices (default 1)      --rounds N     kill -9 rounds (3)
 *   --fuzz N        fuzz inputs at most (30000)     --minutes M    stop fuzzing after M minutes (1.5)
 *   --deadline-s S  a socket that makes no progress is gone by then (30); the hub's
 *                   connections.* timeouts are set to half of it
 *   --flood N       idle connections in the flood (1000)
 *   --hostile N     connections of each other hostile kind, per port (20)
 *   --only LIST     fuzz these protocols only: mqtt,amqp,http,ws-mqtt,ws-amqp
 *   --quiet-s S     seconds of quiet after fuzz + hostile before the hub's end RSS is read (60)
 */
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureCa } from '@ferry/hub';
import { startCanary } from './canary.js';
import { FUZZ_PROTOCOLS, type FuzzProtocol, recordSessions } from './capture.js';
import { fuzz } from './fuzz.js';
import { hostile } from './hostile.js';
import { ChaosHub } from './hub.js';
import { killRounds } from './kill-rounds.js';
import { type CampaignResult, failures, markdown, rows } from './report.js';
import { Rng } from './rng.js';

// The official service client trusts only the CAs in NODE_EXTRA_CA_CERTS, read at start-up: run
// again with the test CA there (the one test/compat/harness.ts issues every hub's certificate from).
const caDir = process.env.FERRY_TEST_CA_DIR ?? join(tmpdir(), 'ferry-test-ca');
const caFile = ensureCa(caDir).caFile;
if (process.env.NODE_EXTRA_CA_CERTS !== caFile) {
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: caFile, FERRY_TEST_CA_DIR: caDir };
  const args = [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  const child = spawnSync(process.execPath, args, { stdio: 'inherit', env });
  process.exit(child.status ?? 1);
}

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    fuzz: { type: 'string', default: '30000' },
    minutes: { type: 'string', default: '1.5' },
    'deadline-s': { type: 'string', default: '30' },
    flood: { type: 'string', default: '1000' },
    hostile: { type: 'string', default: '20' },
    only: { type: 'string' },
    'quiet-s': { type: 'string', default: '60' },
  },
});
const only = values.only?.split(',').map((p) => p.trim()) as FuzzProtocol[] | undefined;
for (const p of only ?? []) if (!FUZZ_PROTOCOLS.includes(p)) throw new Error(`--only: no protocol ${p}`);
const num = (name: Exclude<keyof typeof values, 'only'>) => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number, got ${values[name]}`);
  return n;
};
const seed = num('seed');
const started = Date.now();
const log = (line: string) => process.stderr.write(`[chaos ${((Date.now() - started) / 1000).toFixed(0)} s] ${line}\n`);
const rng = new Rng(seed);
const killRng = rng.fork();
const fuzzRng = rng.fork();
const result: CampaignResult = {};
const findingsDir = join(tmpdir(), `ferry-chaos-findings-${process.pid}`);
// A client library that throws from an event handler (azure-iothub recurses without end on an
// error that names itself, when the hub dies under it) must not end the campaign: logged, counted.
let clientLibraryErrors = 0;
process.on('uncaughtException', (err) => {
  // Anything else (the campaign's own errors, a failed top-level await) ends the run as a failure.
  if (!/node_modules/.test(String(err.stack))) {
    log(`the campaign failed: ${err.stack}`);
    process.exit(2);
  }
  clientLibraryErrors++;
  log(`a client library threw (the campaign goes on): ${err.stack?.split('\n').slice(0, 3).join(' / ')}`);
});

log(`seed ${seed}`);
if (num('rounds') > 0) {
  result.kill = await killRounds({ rounds: num('rounds'), rng: killRng, roundMs: [1500, 5000], log });
}

// Half the deadline for each of the hub's own socket timeouts: a socket must be gone by the deadline.
const halfDeadline = (num('deadline-s') * 1000) / 2;
const hub = await ChaosHub.start({
  c2d: { maxQueueDepth: 200 },
  mqtt: { maxInflight: 200 },
  connections: {
    tlsHandshakeTimeoutMs: halfDeadline,
    firstPacketTimeoutMs: halfDeadline,
    writeStallTimeoutMs: halfDeadline,
  },
  log: { level: 'error' },
});
try {
  const sessions = await recordSessions(hub);
  log(`recorded ${sessions.length} sessions of real clients`);
  const canary = await startCanary(hub, 'canary');
  const fuzzing = fuzz(hub, {
    sessions,
    inputs: num('fuzz'),
    protocols: only,
    rng: fuzzRng,
    until: Date.now() + num('minutes') * 60_000,
    concurrency: 48,
    refresh: () => recordSessions(hub),
    findingsDir,
    log,
  });
  const hostiles = hostile(hub, {
    deadlineMs: num('deadline-s') * 1000,
    flood: num('flood'),
    perKind: num('hostile'),
    log,
  });
  const [fuzzed, watched] = await Promise.allSettled([
    fuzzing.finally(() => log('fuzz done')),
    hostiles.finally(() => log('hostile done')),
  ]);
  if (fuzzed.status === 'rejected') throw fuzzed.reason;
  if (watched.status === 'rejected') throw watched.reason;
  result.fuzz = fuzzed.value;
  result.hostile = watched.value;
  result.canary = await canary.stop();
  // RSS "after the run" is read once the hub has been quiet a while (issue 29: a minute).
  log(`quiet for ${num('quiet-s')} s before the end RSS`);
  await sleep(num('quiet-s') * 1000);
} finally {
  await hub.stop();
  result.shared = hub.health;
}

console.log(markdown(rows(result)));
if (result.shared?.memoryEnd)
  console.log(
    `\nhub memory at the start: ${result.shared.memoryStart ?? '?'}\nhub memory at the end: ${result.shared.memoryEnd}`,
  );
if (clientLibraryErrors) console.log(`\n${clientLibraryErrors} errors thrown inside client libraries (logged above)`);
const failed = failures(result);
console.log(failed.length ? `\nFAILED (seed ${seed}):\n- ${failed.join('\n- ')}` : `\nPASSED (seed ${seed})`);
log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(failed.length ? 1 : 0);
