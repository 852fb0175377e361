/** The twin tab's pure pieces: the merge patch from loaded to edited, properties with their metadata, error positions. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { editable, errorPosition, mergePatch, propertyRows } from '../src/twin.js';

test('mergePatch: changed and new values, null for removed ones, objects key by key, undefined when equal', () => {
  const before = { a: 1, b: { c: 2, d: 3 }, e: [1, 2], gone: 'x' };
  const after = { a: 1, b: { c: 5, d: 3, f: true }, e: [1, 2, 3], added: { deep: null } };
  assert.deepEqual(mergePatch(before, after), {
    gone: null,
    b: { c: 5, f: true },
    e: [1, 2, 3],
    added: { deep: null },
  });
  assert.equal(mergePatch(before, structuredClone(before)), undefined);
  // An object replaced by a value, and a value by an object.
  assert.deepEqual(mergePatch({ x: { y: 1 }, z: 1 }, { x: 2, z: { w: 1 } }), { x: 2, z: { w: 1 } });
});

test('editable leaves out $version and $metadata', () => {
  assert.deepEqual(editable({ rate: 5, $version: 3, $metadata: { $lastUpdated: 't' } }), { rate: 5 });
  assert.deepEqual(editable(undefined), {});
});

test('propertyRows: each leaf with its $lastUpdated (and $lastUpdatedVersion), in path order', () => {
  const reported = {
    fw: { version: '1.2', channel: 'beta' },
    temp: 21,
    $version: 4,
    $metadata: {
      $lastUpdated: '2026-01-01T00:00:03Z',
      fw: {
        $lastUpdated: '2026-01-01T00:00:02Z',
        version: { $lastUpdated: '2026-01-01T00:00:02Z' },
        channel: { $lastUpdated: '2026-01-01T00:00:01Z' },
      },
      temp: { $lastUpdated: '2026-01-01T00:00:03Z', $lastUpdatedVersion: 4 },
    },
  };
  assert.deepEqual(propertyRows(reported), [
    { path: 'fw.channel', value: 'beta', lastUpdated: '2026-01-01T00:00:01Z' },
    { path: 'fw.version', value: '1.2', lastUpdated: '2026-01-01T00:00:02Z' },
    { path: 'temp', value: 21, lastUpdated: '2026-01-01T00:00:03Z', lastUpdatedVersion: 4 },
  ]);
  assert.deepEqual(propertyRows({ $version: 1 }), []);
});

test('errorPosition reads the line and position of a query syntax error', () => {
  assert.deepEqual(errorPosition('Syntax error at line 1, position 41: Expected value but end of input found.'), {
    line: 1,
    column: 41,
  });
  assert.equal(errorPosition('the query is empty'), undefined);
});
