/**
 * The configuration of a whole hub started in the test's own process (`Hub.start`) on loopback
 * with OS-chosen ports, in a data directory of its own that `removeHubDirs` deletes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/index.js';

export const ADDRESS = '127.0.0.1';

const dirs: string[] = [];

/** `flags` are merged over the loopback defaults (observability, console, store...). */
export function inProcessHubConfig(prefix: string, flags: Record<string, unknown> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dataDir);
  return parseConfig({
    flags: { dataDir, hosts: [ADDRESS], bind: ADDRESS, ports: { https: 0, mqtts: 0, amqps: 0 }, ...flags },
  });
}

/** Deletes the data directories made so far; call it from `after`. */
export function removeHubDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** observability.port 0 means "disabled", so a free port is found first and handed over. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, ADDRESS, resolve);
  });
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
