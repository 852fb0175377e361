/**
 * The X.509 commands of `ferry` against a real hub (issue 14): a test CA, CA proof of possession
 * (with the CA key, and with a proof certificate made elsewhere for `ca-cert code`; a proof
 * signed by the wrong key is refused in the unit tests), list and delete; `device import` of a JSON-lines file in bulk calls with per-device failures; and a
 * `device cert` certificate the official MQTT client connects with.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestCa, issueCertificate } from '@ferry/hub';
import { CLI_BIN, type HubProcess, startHub } from './harness.js';
import { send } from './helpers/send.js';
import { openX509Device } from './helpers/x509.js';

const T = { timeout: 60_000 };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe('ferry ca-cert, device cert and device import', () => {
  let hub: HubProcess;
  let dir: string;

  /** Runs the CLI against the hub (owner connection string, the hub's CA). */
  function ferry(...args: string[]): Promise<Result> {
    const target = ['--connection-string', hub.ownerConnectionString, '--ca', hub.caFile];
    const local = ['create-test-ca', 'cert'].includes(args[1] ?? '');
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI_BIN, ...args, ...(local ? [] : target)], (err, stdout, stderr) => {
        const code = err ? (err as { code?: number }).code : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      });
    });
  }

  before(async () => {
    hub = await startHub();
    dir = mkdtempSync(join(tmpdir(), 'ferry-cli-x509-'));
  });
  after(async () => {
    await hub?.stop();
  });

  test('a test CA, added and proven with its key; another proven with a proof made for `ca-cert code`', T, async () => {
    const made = await ferry('ca-cert', 'create-test-ca', 'root', '--out', dir);
    assert.equal(made.code, 0, made.stderr);
    const added = await ferry('ca-cert', 'add', 'root', join(dir, 'root.pem'));
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /verified: +yes \(proof of possession\)/);

    // The second CA's key is kept elsewhere (made here, not by the CLI): the upload stays
    // unverified until a proof comes for the code `ca-cert code` prints.
    const second = createTestCa('Ferry second CA');
    writeFileSync(join(dir, 'second.pem'), second.certPem);
    const unverified = await ferry('ca-cert', 'add', 'second', join(dir, 'second.pem'));
    assert.match(unverified.stdout, /verified: +no/);
    const code = (await ferry('ca-cert', 'code', 'second')).stdout.trim();
    assert.match(code, /^[0-9A-F]{48}$/);
    const proof = join(dir, 'proof.pem');
    writeFileSync(proof, issueCertificate(second, code).certPem);
    const verified = await ferry('ca-cert', 'verify', 'second', '--proof', proof);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /verified: +yes/);

    const list = await ferry('ca-cert', 'list');
    assert.match(list.stdout, /^root +yes +CN=Ferry test CA root/m);
    assert.match(list.stdout, /^second +yes /m);
    assert.equal((await ferry('ca-cert', 'delete', 'second')).code, 0);
    const gone = await ferry('ca-cert', 'verify', 'second', '--proof', proof);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /404: NotFound: No CA certificate is named "second"/);
  });

  test(
    'device import: 250 devices in bulk calls, the failures listed; a CA device then connects with `device cert`',
    T,
    async () => {
      await hub.createDevice('import-007');
      const lines = Array.from({ length: 248 }, (_, i) =>
        JSON.stringify({ deviceId: `import-${String(i).padStart(3, '0')}` }),
      );
      lines.push('', JSON.stringify({ deviceId: 'cli-ca-dev', authentication: { type: 'certificateAuthority' } }));
      lines.push(JSON.stringify({ id: 'import-999', importMode: 'delete' }));
      const file = join(dir, 'devices.jsonl');
      writeFileSync(file, `${lines.join('\n')}\n`);
      const run = await ferry('device', 'import', file);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stdout, /^248 of 250 devices imported/m);
      assert.match(run.stdout, /import-007: DeviceAlreadyExists/);
      assert.match(run.stdout, /import-999: DeviceNotFound/);
      // No terminal: a progress line per tenth, the last one complete.
      assert.match(run.stderr, /\[#{30}\] 250\/250 devices, 2 failed/);
      const bad = join(dir, 'bad.jsonl');
      writeFileSync(bad, '{"deviceId":"ok"}\nnot json\n');
      const refused = await ferry('device', 'import', bad);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /line 2: not JSON/);

      const cert = await ferry('device', 'cert', 'cli-ca-dev', '--ca', join(dir, 'root.pem'), '--out', dir);
      assert.equal(cert.code, 0, cert.stderr);
      assert.match(cert.stdout, /SHA-1 thumbprint: +[0-9A-F]{40}/);
      const device = await openX509Device(
        hub,
        'cli-ca-dev',
        {
          certPem: readFileSync(join(dir, 'cli-ca-dev.pem'), 'utf8'),
          keyPem: readFileSync(join(dir, 'cli-ca-dev.key.pem'), 'utf8'),
        },
        'Mqtt',
      );
      try {
        await send(hub, 'cli-ca-dev', { messageId: 'via-cli-cert', body: 'x' });
        assert.equal((await device.next()).messageId, 'via-cli-cert');
      } finally {
        await device.close();
      }
    },
  );
});
