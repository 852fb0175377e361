/**
 * `npm pack` of @ferry/common, @ferry/device and @ferry/service gives tarballs that install in a
 * fresh project (offline: the third-party dependencies are copied in from this repository's
 * node_modules first, as a cache would provide them), import at run time, and type-check a
 * program against the public API, with `@ts-expect-error` on misuse that must not compile.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** The SDKs' third-party dependencies and theirs (rhea, ws, mqtt-packet), and @types/node for the consumer's tsc. */
const DEPENDENCIES = ['rhea', 'ws', 'mqtt-packet', '@types/node'];

const dir = mkdtempSync(join(tmpdir(), 'ferry-pack-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Every package `names` need, found as Node would from the repository root. */
function closure(names: string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string, from: string) => {
    const req = createRequire(join(from, 'package.json'));
    const pkgDir = join(req.resolve(`${name}/package.json`), '..');
    if (seen.has(pkgDir)) return;
    seen.add(pkgDir);
    const pkg = req(`${name}/package.json`) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep, pkgDir);
  };
  for (const n of names) visit(n, ROOT);
  return [...seen];
}

const CONSUMER = `
import { DeviceClient, ExponentialBackoffWithJitter, FerryError, noRetry, type ReceivedMessage } from '@ferry/device';
import { type FeedbackBatch, ServiceClient } from '@ferry/service';

const device = DeviceClient.fromConnectionString('HostName=h.example;DeviceId=d1;SharedAccessKey=AAAA', {
  transport: 'amqp',
  retry: new ExponentialBackoffWithJitter({ maxAttempts: 3 }),
});
const service = ServiceClient.fromConnectionString('HostName=h.example;SharedAccessKeyName=service;SharedAccessKey=AAAA', { retry: noRetry });

export async function walkThrough(): Promise<string[]> {
  const m: ReceivedMessage | null = await device.receive({ timeoutMs: 1000 });
  if (m) await device.complete(m);
  await service.send('d1', { body: 'Cloud to device message.', ack: 'full', properties: { a: 'b' } });
  for await (const batch of service.feedback()) {
    const b: FeedbackBatch = batch;
    await b.complete();
    return b.records.map((r) => r.statusCode);
  }
  return [];
}

/** Never called: each line must fail to compile. */
export function misuse(): void {
// @ts-expect-error: no such transport
DeviceClient.fromConnectionString('x', { transport: 'carrier-pigeon' });
// @ts-expect-error: receive takes options, not a number
void device.receive(1000);
// @ts-expect-error: ack is none, positive, negative or full
void service.send('d1', { body: 'x', ack: 'always' });
// @ts-expect-error: a message needs a body
void service.send('d1', {});
// @ts-expect-error: the service client has no device transports
ServiceClient.fromConnectionString('x', { transport: 'mqtt' });
}

try {
  DeviceClient.fromConnectionString('HostName=h.example');
} catch (err) {
  if (!(err instanceof FerryError) || err.errorName !== 'ArgumentInvalid') throw err;
  console.log(\`refused: \${err.code}\`);
}
console.log(device.deviceId, device.state, typeof service.registry.list);
await device.close();
await service.close();
`;

test('the packed SDKs install offline in a fresh project, import, and type-check', { timeout: 120_000 }, () => {
  execFileSync(
    NPM,
    ['pack', '--pack-destination', dir, '-w', 'packages/common', '-w', 'packages/device', '-w', 'packages/service'],
    {
      cwd: ROOT,
      stdio: 'pipe',
    },
  );
  const tarballs = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
  assert.deepEqual(tarballs.sort(), ['ferry-common-0.1.0.tgz', 'ferry-device-0.1.0.tgz', 'ferry-service-0.1.0.tgz']);

  const project = join(dir, 'consumer');
  for (const pkgDir of closure(DEPENDENCIES)) {
    const name = pkgDir.slice(pkgDir.lastIndexOf('node_modules/') + 'node_modules/'.length);
    mkdirSync(join(project, 'node_modules', name, '..'), { recursive: true });
    cpSync(pkgDir, join(project, 'node_modules', name), { recursive: true, dereference: true });
  }
  const dependencies = Object.fromEntries(
    tarballs.map((t) => [`@ferry/${t.replace(/^ferry-|-0\.1\.0\.tgz$/g, '')}`, `file:../${t}`]),
  );
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies }),
  );
  execFileSync(NPM, ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
    cwd: project,
    stdio: 'pipe',
  });

  writeFileSync(join(project, 'app.ts'), CONSUMER);
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: true,
        types: ['node'],
        outDir: 'out',
      },
      files: ['app.ts'],
    }),
  );
  // Compiles only when the tarballs carry their types and every @ts-expect-error line is an error.
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], {
    cwd: project,
    stdio: 'pipe',
  });
  const out = execFileSync(process.execPath, ['out/app.js'], { cwd: project, encoding: 'utf8' });
  assert.equal(out, 'refused: 400004\nd1 new function\n');
});
