/** The query grammar: what it accepts, where it says a query is wrong, and that the committed parser is current. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FerryError } from '@ferry/common';
// @ts-expect-error: a plain .mjs script without types
import { generateQueryParser, PARSER_FILE } from '../../../scripts/generate-query-parser.mjs';
import { parseQuery } from '../src/twins/index.js';

function refusal(text: string): FerryError {
  try {
    parseQuery(text);
  } catch (err) {
    assert.ok(err instanceof FerryError, String(err));
    return err;
  }
  assert.fail(`${text} was accepted`);
}

test('the committed parser is what grammar.peggy generates (npm run generate:query-parser)', () => {
  assert.equal(readFileSync(PARSER_FILE as string, 'utf8'), (generateQueryParser as () => string)());
});

test('queries parse to the tree the compilers read', () => {
  const q = parseQuery(
    "SELECT * FROM devices WHERE tags.a = 'x' AND NOT (properties.reported.b.c >= -1.5e2 OR status <> 'disabled')",
  );
  assert.equal(q.select, null);
  assert.deepEqual(q.groupBy, []);
  assert.equal(q.where?.kind, 'and');
  if (q.where?.kind !== 'and') return;
  assert.deepEqual(q.where.left, {
    kind: 'compare',
    op: '=',
    field: { path: ['tags', 'a'], at: { offset: 28, line: 1, column: 29 } },
    value: 'x',
  });
  assert.equal(q.where.right.kind, 'not');
  const counted = parseQuery('select tags.site as s, count() as n from devices group by tags.site');
  assert.deepEqual(
    counted.select?.map((i) => i.kind),
    ['field', 'count'],
  );
  assert.deepEqual(
    counted.groupBy.map((f) => f.path),
    [['tags', 'site']],
  );
  const list = parseQuery('SELECT * FROM devices WHERE deviceId NOT IN (\'a\', "b", 3, true, null)');
  assert.deepEqual(list.where, {
    kind: 'not',
    operand: {
      kind: 'in',
      field: { path: ['deviceId'], at: { offset: 28, line: 1, column: 29 } },
      values: ['a', 'b', 3, true, null],
    },
  });
});

test('the registry fields of a twin are queried like any field: WHERE, SELECT and GROUP BY', () => {
  for (const text of [
    "SELECT * FROM devices WHERE lastActivityTime > '2026-12-01T00:00:00Z' AND cloudToDeviceMessageCount = 2",
    "SELECT * FROM devices WHERE connectionState = 'Connected' OR IS_DEFINED(lastActivityTime)",
    'SELECT deviceId, lastActivityTime, cloudToDeviceMessageCount FROM devices',
    'SELECT cloudToDeviceMessageCount, COUNT() AS n FROM devices GROUP BY cloudToDeviceMessageCount',
    'SELECT lastActivityTime, COUNT() AS n FROM devices GROUP BY lastActivityTime',
  ]) {
    assert.doesNotThrow(() => parseQuery(text), text);
  }
});

test('malformed queries are ArgumentInvalid with the position of the error', () => {
  const cases: Array<[string, RegExp]> = [
    ['SELECT * FROM devices WHERE', /line 1, position 28/],
    ['SELECT * FROM devices WHERE tags.a = ', /line 1, position 38/],
    ['SELECT * FROM devices WHERE tags.a == 1', /line 1, position 37/],
    ["SELECT * FROM devices WHERE tags.a = 'open", /line 1, position 38/],
    ['SELECT * FROM devices\nWHERE (tags.a = 1', /line 2, position 18/],
    ['SELECT * FROM modules', /line 1, position 15/],
    ['DELETE FROM devices', /line 1, position 1/],
    ['SELECT * FROM devices WHERE connectionStateUpdatedTime = 1', /connectionStateUpdatedTime.*line 1, position 29/],
    ['SELECT * FROM devices WHERE lastActivityTime.x = 1', /lastActivityTime\.x.*line 1, position 29/],
    ['SELECT * FROM devices WHERE properties.other.x = 1', /line 1, position 29/],
    ['SELECT * FROM devices WHERE tags = 1', /line 1, position 29/],
    ['SELECT * FROM devices GROUP BY tags.a', /GROUP BY needs COUNT/],
    ['   ', /empty/],
  ];
  for (const [text, message] of cases) {
    const err = refusal(text);
    assert.equal(err.errorName, 'ArgumentInvalid', text);
    assert.match(err.message, message, text);
  }
});
