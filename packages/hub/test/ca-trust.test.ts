/** CaTrust: the verified hub CAs as a node holds them, the changes it reports, the removals it passes on. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { CaTrust } from '../src/auth/ca-trust.js';
import { createTestCa } from '../src/tls/device-certs.js';

const logger = pino({ level: 'silent' });
const a = new X509Certificate(createTestCa('CA a').certPem);
const b = new X509Certificate(createTestCa('CA b').certPem);

function setup(disconnectOnRemoval: boolean) {
  let stored: X509Certificate[] = [];
  let reads = 0;
  const source = {
    verifiedCaCertificates: async () => {
      reads++;
      return [...stored];
    },
  };
  const trust = new CaTrust({ source, disconnectOnRemoval, logger });
  const changes: string[][] = [];
  const removals: string[][] = [];
  trust.onChange((pems) => changes.push(pems.map((p) => new X509Certificate(p).fingerprint256)));
  trust.onRemoved((removed) => removals.push([...removed]));
  return {
    trust,
    changes,
    removals,
    store: (...certs: X509Certificate[]) => {
      stored = certs;
    },
    reads: () => reads,
  };
}

describe('CaTrust', () => {
  test('reports each change of the set with the new PEMs, and removals as fingerprints', async () => {
    const t = setup(true);
    t.store(a, b);
    await t.trust.refresh();
    assert.deepEqual(t.changes, [[a.fingerprint256, b.fingerprint256]]);
    assert.equal(t.trust.trusts([a.fingerprint256, b.fingerprint256]), true);
    // Read again without a change: nothing reported.
    await t.trust.refresh();
    assert.equal(t.changes.length, 1);
    t.store(b);
    await t.trust.refresh();
    assert.deepEqual(t.changes.at(-1), [b.fingerprint256]);
    assert.deepEqual(t.removals, [[a.fingerprint256]]);
    assert.equal(t.trust.trusts([a.fingerprint256]), false);
    assert.equal(t.trust.trusts([b.fingerprint256]), true);
  });

  test('with disconnectOnRemoval false, removals change the anchors but reach no removal listener', async () => {
    const t = setup(false);
    t.store(a);
    await t.trust.refresh();
    t.store();
    await t.trust.refresh();
    assert.deepEqual(t.changes, [[a.fingerprint256], []]);
    assert.deepEqual(t.removals, []);
    assert.equal(t.trust.trusts([a.fingerprint256]), false);
  });

  test('refreshes asked for while one reads are served by one more read, not lost', async () => {
    const t = setup(true);
    t.store(a);
    const first = t.trust.refresh();
    t.store(a, b);
    const second = t.trust.refresh();
    await Promise.all([first, second]);
    assert.equal(t.reads(), 2);
    assert.deepEqual(t.changes.at(-1), [a.fingerprint256, b.fingerprint256]);
  });

  test('an authentication that reads another set than the one held makes it read the store again', async () => {
    const t = setup(true);
    t.store(a);
    const changed = new Promise<readonly string[]>((resolve) => t.trust.onChange(resolve));
    // What the authenticator gets is the store's set, at once.
    assert.deepEqual(
      (await t.trust.verifiedCaCertificates()).map((c) => c.fingerprint256),
      [a.fingerprint256],
    );
    assert.equal((await changed).length, 1);
    assert.equal(t.trust.trusts([a.fingerprint256]), true);
  });
});
