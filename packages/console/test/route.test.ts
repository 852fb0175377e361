/** Hash routes: every hash is a page or 'not-found', and none throws (issue 23: `#/devices/bad%zz` left the page blank). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { historyHref, parseRoute } from '../src/route.js';

test('the console pages, with or without the leading slash or a trailing one', () => {
  for (const hash of ['', '#', '#/', '#//']) assert.deepEqual(parseRoute(hash), { page: 'overview' }, hash);
  assert.deepEqual(parseRoute('#/devices'), { page: 'devices' });
  assert.deepEqual(parseRoute('#devices/'), { page: 'devices' });
  assert.deepEqual(parseRoute('#/feedback'), { page: 'feedback' });
  assert.deepEqual(parseRoute('#/telemetry'), { page: 'telemetry' });
  assert.deepEqual(parseRoute('#/jobs'), { page: 'jobs' });
  assert.deepEqual(parseRoute('#/devices/dev%201'), { page: 'device', deviceId: 'dev 1', tab: 'messages' });
  assert.deepEqual(parseRoute('#/devices/a%2Fb'), { page: 'device', deviceId: 'a/b', tab: 'messages' });
  assert.deepEqual(parseRoute('#/devices/d1/history/m%2F1'), {
    page: 'device',
    deviceId: 'd1',
    tab: 'history',
    messageId: 'm/1',
  });
  assert.equal(historyHref('d 1', 'm/1'), '#/devices/d%201/history/m%2F1');
  for (const tab of ['messages', 'history', 'telemetry', 'twin', 'methods', 'dead-letters']) {
    assert.deepEqual(parseRoute(`#/devices/d1/${tab}/`), { page: 'device', deviceId: 'd1', tab }, tab);
  }
});

test('anything else is not found, malformed percent-encoding included', () => {
  for (const hash of [
    '#/devices/bad%zz',
    '#/devices/%',
    '#/nowhere',
    '#/devices/a/b',
    '#/devices/a/twin/x',
    '#/devices/a/history/bad%zz',
    '#/devices/a/history/m/x',
    '#/telemetry/x',
    '#/feedback/x',
    '#main',
    '#%E0%A4%A',
  ]) {
    assert.deepEqual(parseRoute(hash), { page: 'not-found', hash }, hash);
  }
});
