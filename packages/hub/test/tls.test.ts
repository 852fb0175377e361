import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { connect, createServer } from 'node:tls';
import { ensureCa, ensureTlsMaterial } from '../src/tls/index.js';

const dirs: string[] = [];
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ferry-tls-test-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const mode = (path: string) => statSync(path).mode & 0o777;

describe('Ferry-made TLS material', () => {
  const dataDir = freshDir();
  const hosts = ['hub.example', '127.0.0.2', 'localhost'];
  const first = ensureTlsMaterial({ dataDir, hosts, tls: {} });
  const tlsDir = join(dataDir, 'tls');

  test('first start writes the CA and a server certificate; keys are 0600', () => {
    assert.equal(first.issued, true);
    assert.equal(first.caFile, join(tlsDir, 'ca.pem'));
    assert.equal(mode(join(tlsDir, 'ca-key.pem')), 0o600);
    assert.equal(mode(join(tlsDir, 'server-key.pem')), 0o600);
    assert.equal(readFileSync(join(tlsDir, 'server.pem'), 'utf8'), first.certPem);
  });

  test('the server certificate has DNS SANs for names, IP SANs for addresses, and loopback for localhost', () => {
    const cert = new X509Certificate(first.certPem);
    const sans = (cert.subjectAltName ?? '').split(', ').sort();
    assert.deepEqual(sans, [
      'DNS:hub.example',
      'DNS:localhost',
      'IP Address:0:0:0:0:0:0:0:1',
      'IP Address:127.0.0.1',
      'IP Address:127.0.0.2',
    ]);
    assert.equal(cert.checkHost('hub.example'), 'hub.example');
    assert.equal(cert.checkIP('127.0.0.2'), '127.0.0.2');
    assert.equal(cert.checkHost('other.example'), undefined);
    assert.equal(cert.ca, false);
  });

  test('it chains to the CA and matches its key', () => {
    const ca = new X509Certificate(readFileSync(first.caFile!, 'utf8'));
    const cert = new X509Certificate(first.certPem);
    assert.equal(ca.ca, true);
    assert.ok(cert.checkIssued(ca));
    assert.ok(cert.verify(ca.publicKey));
    assert.ok(cert.checkPrivateKey(createPrivateKey(first.keyPem)), 'server.pem matches server-key.pem');
  });

  test('a restart with the same hosts reuses everything', () => {
    const again = ensureTlsMaterial({ dataDir, hosts, tls: {} });
    assert.equal(again.issued, false);
    assert.equal(again.certPem, first.certPem);
    assert.equal(again.keyPem, first.keyPem);
  });

  test('new hosts get a new server certificate from the same CA', () => {
    const caBefore = readFileSync(join(tlsDir, 'ca.pem'), 'utf8');
    const changed = ensureTlsMaterial({ dataDir, hosts: ['127.0.0.3'], tls: {} });
    assert.equal(changed.issued, true);
    assert.equal(readFileSync(join(tlsDir, 'ca.pem'), 'utf8'), caBefore);
    const cert = new X509Certificate(changed.certPem);
    assert.equal(cert.subjectAltName, 'IP Address:127.0.0.3');
    assert.ok(cert.checkIssued(new X509Certificate(caBefore)));
  });

  test('a Node TLS client trusting only the CA completes a handshake to the IP host', async () => {
    const material = ensureTlsMaterial({ dataDir, hosts: ['127.0.0.2'], tls: {} });
    const server = createServer({ cert: material.certPem, key: material.keyPem }, (s) => s.end('hi'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
    const { port } = server.address() as { port: number };
    try {
      const text = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.2', port, ca: readFileSync(material.caFile!, 'utf8') }, () => {
          let data = '';
          socket.on('data', (c) => (data += c));
          socket.on('end', () => resolve(data));
        });
        socket.on('error', reject);
      });
      assert.equal(text, 'hi');
    } finally {
      server.close();
    }
  });
});

describe('CA handling', () => {
  test('ensureCa creates once and then reuses', () => {
    const dataDir = freshDir();
    const a = ensureCa(dataDir);
    const pem = readFileSync(a.caFile, 'utf8');
    const b = ensureCa(dataDir);
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.equal(readFileSync(b.caFile, 'utf8'), pem);
  });

  test("a CA copied into a new data dir issues that dir's server certificate (the compat harness does this)", () => {
    const shared = ensureCa(freshDir());
    const dataDir = freshDir();
    const target = ensureCa(dataDir); // make the dir, then overwrite with the shared CA
    writeFileSync(target.caFile, readFileSync(shared.caFile));
    writeFileSync(target.caKeyFile, readFileSync(shared.caKeyFile));
    const material = ensureTlsMaterial({ dataDir, hosts: ['localhost'], tls: {} });
    assert.ok(new X509Certificate(material.certPem).checkIssued(new X509Certificate(readFileSync(shared.caFile))));
  });

  test('a server certificate from another CA is replaced', () => {
    const dataDir = freshDir();
    const before = ensureTlsMaterial({ dataDir, hosts: ['localhost'], tls: {} });
    unlinkSync(join(dataDir, 'tls', 'ca.pem'));
    unlinkSync(join(dataDir, 'tls', 'ca-key.pem'));
    const after = ensureTlsMaterial({ dataDir, hosts: ['localhost'], tls: {} });
    assert.equal(after.issued, true);
    assert.notEqual(after.certPem, before.certPem);
  });

  test('half a CA (key without certificate) is refused with what to do', () => {
    const dataDir = freshDir();
    const { caFile } = ensureCa(dataDir);
    unlinkSync(caFile);
    assert.throws(
      () => ensureTlsMaterial({ dataDir, hosts: ['localhost'], tls: {} }),
      (err: Error) => /only one of ca\.pem and ca-key\.pem/.test(err.message),
    );
  });
});

describe("the user's own certificate", () => {
  test('certFile and keyFile are used as they are; no CA is made', () => {
    const source = ensureTlsMaterial({ dataDir: freshDir(), hosts: ['hub.example'], tls: {} });
    const dir = freshDir();
    writeFileSync(join(dir, 'c.pem'), source.certPem);
    writeFileSync(join(dir, 'k.pem'), source.keyPem);
    const dataDir = freshDir();
    const material = ensureTlsMaterial({
      dataDir,
      hosts: ['hub.example'],
      tls: { certFile: join(dir, 'c.pem'), keyFile: join(dir, 'k.pem'), caFile: source.caFile! },
    });
    assert.equal(material.certPem, source.certPem);
    assert.equal(material.caFile, source.caFile);
    assert.throws(() => statSync(join(dataDir, 'tls', 'ca.pem')));
  });

  test('a missing file is named', () => {
    assert.throws(
      () =>
        ensureTlsMaterial({
          dataDir: freshDir(),
          hosts: ['h'],
          tls: { certFile: '/nope/c.pem', keyFile: '/nope/k.pem' },
        }),
      (err: Error) => err.message.includes('/nope/c.pem'),
    );
  });
});
