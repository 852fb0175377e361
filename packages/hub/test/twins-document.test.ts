/** IoT Hub's rules for twin documents, and how patches change a section and its metadata. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FerryError } from '@ferry/common';
import { checkPatch, checkSize, LIMITS, sectionSize } from '../src/twins/document-rules.js';
import { emptySection, patchSection, replaceSection } from '../src/twins/merge.js';

function refused(fn: () => unknown): FerryError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FerryError);
    return err;
  }
  assert.fail('accepted');
}

test('names: no control characters, dots, dollars or spaces; at most 1 KB', () => {
  for (const name of ['a.b', '$x', 'a b', 'tab\there', '\u0085c1', '', 'n'.repeat(LIMITS.nameBytes + 1)]) {
    assert.equal(
      refused(() => checkPatch('desired', { [name]: 1 }, true)).errorName,
      'ArgumentInvalid',
      JSON.stringify(name),
    );
  }
  assert.deepEqual(checkPatch('desired', { 'ok-name_1': { ünï: 'x' } }, true), { 'ok-name_1': { ünï: 'x' } });
});

test('depth: ten nested objects below the section, not eleven', () => {
  const nest = (levels: number) => {
    let v: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < levels; i++) v = { [`l${i}`]: v };
    return v;
  };
  checkPatch('tags', nest(10), true);
  assert.equal(refused(() => checkPatch('tags', nest(11), true)).errorName, 'ArgumentInvalid');
});

test('values: objects at the top, null only in a patch, no null in arrays, strings up to 4 KB', () => {
  for (const bad of [[1], 'x', null, 3]) refused(() => checkPatch('reported', bad, true));
  refused(() => checkPatch('desired', { a: null }, false));
  refused(() => checkPatch('desired', { a: [1, null] }, true));
  refused(() => checkPatch('desired', { a: 'x'.repeat(LIMITS.stringBytes + 1) }, true));
  checkPatch('desired', { a: [1, 'two', { three: 3 }] }, true);
});

test('size as IoT Hub counts it: names and strings in UTF-8, numbers 8, booleans 4', () => {
  assert.equal(sectionSize({ ab: 'xyz', n: 1, b: true, o: { é: 'é' } }), 2 + 3 + 1 + 8 + 1 + 4 + 1 + 2 + 2);
  checkSize('tags', { t: 'x'.repeat(LIMITS.tagsBytes - 1) });
  assert.equal(refused(() => checkSize('tags', { t: 'x'.repeat(LIMITS.tagsBytes) })).errorName, 'ArgumentInvalid');
});

test('a patch merges, deletes with null and stamps what it touched with the new version', () => {
  const s0 = emptySection('T0', true);
  const s1 = patchSection(s0, { a: { x: 1, y: 2 }, b: 'keep' }, 'T1', true);
  const s2 = patchSection(s1, { a: { x: null, z: 3 } }, 'T2', true);
  assert.deepEqual(s2.values, { a: { y: 2, z: 3 }, b: 'keep' });
  assert.equal(s2.version, 3);
  assert.deepEqual(s2.meta, {
    $lastUpdated: 'T2',
    $lastUpdatedVersion: 3,
    a: {
      $lastUpdated: 'T2',
      $lastUpdatedVersion: 3,
      y: { $lastUpdated: 'T1', $lastUpdatedVersion: 2 },
      z: { $lastUpdated: 'T2', $lastUpdatedVersion: 3 },
    },
    b: { $lastUpdated: 'T1', $lastUpdatedVersion: 2 },
  });
  assert.deepEqual(s1.values, { a: { x: 1, y: 2 }, b: 'keep' }, 'the input section is not changed');
  const r = replaceSection(s2, { c: 1 }, 'T3', false);
  assert.deepEqual(r, { values: { c: 1 }, meta: { $lastUpdated: 'T3', c: { $lastUpdated: 'T3' } }, version: 4 });
});
