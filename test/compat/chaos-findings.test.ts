/**
 * Inputs the chaos fuzzer found stopping the hub (chaos/findings/<name>.<protocol>.bin), each sent
 * to a real hub on its own connection: the hub must still answer /health afterwards.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FUZZ_PROTOCOLS, type FuzzProtocol } from '../../chaos/capture.js';
import { deliver } from '../../chaos/fuzz.js';
import { ChaosHub } from '../../chaos/hub.js';

const DIR = fileURLToPath(new URL('../../chaos/findings/', import.meta.url));
const findings = readdirSync(DIR).filter((f) => f.endsWith('.bin'));

let hub: ChaosHub;
before(async () => {
  hub = await ChaosHub.start({ log: { level: 'error' } });
});
after(async () => {
  await hub?.stop();
});

for (const file of findings) {
  test(`fuzzer finding ${file} leaves the hub serving`, { timeout: 30_000 }, async () => {
    const protocol = /\.([a-z-]+)\.bin$/.exec(file)?.[1] as FuzzProtocol;
    assert.ok(FUZZ_PROTOCOLS.includes(protocol), `${file}: name it <what>.<${FUZZ_PROTOCOLS.join('|')}>.bin`);
    await deliver(hub, new Map(), protocol, readFileSync(DIR + file), false);
    assert.ok(await hub.healthy(5000), `/health after ${file}`);
    assert.equal(hub.health.exits, 0, `the hub exited:\n${hub.process.output().slice(-1500)}`);
  });
}
