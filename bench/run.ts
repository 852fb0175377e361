/**
 * `npm run bench`: runs every bench/*.bench.ts in name order. Each exports `run(): Promise<void>`
 * and prints its own table. Figures go in the README, never into test assertions.
 *
 * Choose benches by name: `npm run bench -- mqtt amqp`, or FERRY_BENCH=mqtt,amqp (a file runs
 * when its name contains one of the words). `peer` (side by side with Mosquitto) runs only when named. Each file documents its own size variables.
 * With more than one file, each runs in a fresh node process, so one bench's memory (RSS above
 * all) does not skew the next one's figures.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// FERRY_BENCH is also how this script hands one file to the child process that runs it.
const only = [
  ...process.argv.slice(2),
  ...(process.env.FERRY_BENCH ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];
// Run only when named: the peer bench needs Mosquitto and takes many minutes.
const OPT_IN = new Set(['peer.bench.ts']);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => (only.length === 0 ? !OPT_IN.has(f) : only.some((o) => f.includes(o))))
  .sort();
if (files.length === 0) throw new Error(`no bench matches ${only.join(', ')}`);

async function runHere(file: string): Promise<void> {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { run?: () => Promise<void> };
  if (typeof mod.run !== 'function') throw new Error(`${file} must export run()`);
  await mod.run();
}

if (files.length === 1) {
  await runHere(files[0]!);
} else {
  const cpu = cpus();
  console.log(
    `Ferry bench: node ${process.version}, ${process.platform}/${process.arch}, ` +
      `${cpu.length} x ${cpu[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM`,
  );
  for (const f of files) {
    console.log(`\n== ${f}`);
    const started = Date.now();
    const env = { ...process.env, FERRY_BENCH: f };
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      env,
      stdio: 'inherit',
    });
    if (child.status !== 0) throw new Error(`${f} failed (${child.status ?? child.signal})`);
    console.log(`(${f}: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
}
