/**
 * `npm run chaos:replay -- DIR`: sends the inputs the fuzzer kept before a hub exit or hang (one
 * file each, `NNNNN-<protocol>.bin`, in order) to a fresh hub one at a time, and names the first
 * one after which the hub no longer answers /health. Exits 1 when it finds one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FUZZ_PROTOCOLS, type FuzzProtocol } from './capture.js';
import { deliver, type TlsSessions } from './fuzz.js';
import { ChaosHub } from './hub.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: npm run chaos:replay -- DIR (a directory the fuzzer wrote)');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bin'))
  .sort();
const hub = await ChaosHub.start({ log: { level: 'error' } });
const tlsSessions: TlsSessions = new Map();
let culprit: string | undefined;
try {
  for (const file of files) {
    const protocol = /^\d+-(.+)\.bin$/.exec(file)?.[1] as FuzzProtocol;
    if (!FUZZ_PROTOCOLS.includes(protocol)) continue;
    const bytes = readFileSync(join(dir, file));
    const before = hub.health.exits + hub.health.hangs;
    await deliver(hub, tlsSessions, protocol, bytes, false);
    await sleep(200);
    if (!(await hub.healthy(3000)) || hub.health.exits + hub.health.hangs > before) {
      culprit = file;
      console.log(
        `${file} (${bytes.length} bytes) stops the hub; first bytes:\n${bytes.subarray(0, 256).toString('hex')}`,
      );
      console.log(`hub output:\n${hub.process.output().slice(-1500)}`);
      break;
    }
  }
} finally {
  await hub.stop().catch(() => undefined);
}
if (!culprit) console.log(`none of the ${files.length} inputs stops the hub on its own`);
process.exit(culprit ? 1 : 0);
