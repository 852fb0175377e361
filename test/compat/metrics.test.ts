/**
 * What an operator scrapes (docs/operations.md), after real traffic on a real hub process: the
 * official service client sends over AMQP with feedback asked for, the official device client
 * receives over MQTT (its PUBACK completes), more messages wait for a device that is offline, a
 * device with a wrong key is refused, a client that does not speak TLS fails its handshake.
 * The scrape must pass `promtool check metrics`, hold every family docs/operations.md lists with
 * counts where the traffic went, and name every metric the Grafana dashboard and the alert rules
 * query; the rules must pass `promtool check rules` and their unit tests (`promtool test rules`).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import common from 'azure-iot-common';
import iothub from 'azure-iothub';
import mqtt from 'mqtt';
import { type HubProcess, startHub } from './harness.js';
import { deviceSas, WRONG_KEY } from './helpers/auth.js';
import { freePort, promtool, sample, scrape } from './helpers/metrics-scrape.js';
import { send } from './helpers/send.js';
import { waitFor, withTimeout } from './helpers/wait.js';
import { mqttOptions, openMqttDevice } from './mqtt-helpers.js';

const T = { timeout: 90_000 };
const DASHBOARD = new URL('../../docs/grafana/ferry.json', import.meta.url);
const RULES = new URL('../../docs/prometheus/ferry-alerts.yml', import.meta.url);
const RULE_TESTS = new URL('../../docs/prometheus/ferry-alerts.test.yml', import.meta.url);

/** Sum of every sample of a family whose labels include `labels` (e.g. 'protocol="mqtt"'). */
function total(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * The names a scrape exports: every sample's, and every declared family's (a labelled counter
 * shows no sample before its first event), with _bucket, _sum and _count for histograms.
 */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const declared = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (declared) {
      const [, name, type] = declared as unknown as [string, string, string];
      names.add(name);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    } else if (line !== '' && !line.startsWith('#')) {
      names.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
    }
  }
  return names;
}

/** Metric names in a PromQL expression: identifiers of Ferry's and the process's families. */
function metricNamesIn(expr: string): string[] {
  return [...expr.matchAll(/\b((?:ferry|process|nodejs)_[a-zA-Z0-9_]+)/g)].map((m) => m[1]!);
}

/** Every PromQL expression of the Grafana dashboard (panels' targets, nested rows too). */
function dashboardExprs(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: unknown[] };
  const exprs: string[] = [];
  const walk = (panels: unknown[]) => {
    for (const p of panels as Array<{ targets?: Array<{ expr?: string }>; panels?: unknown[] }>) {
      for (const t of p.targets ?? []) if (t.expr) exprs.push(t.expr);
      if (p.panels) walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return exprs;
}

describe('metrics after real traffic', () => {
  let hub: HubProcess;
  let port: number;
  let text = '';

  before(async () => {
    port = await freePort();
    hub = await startHub({ config: { observability: { port, bind: '127.0.0.1' } } });
  });

  after(async () => {
    await hub?.stop();
  });

  test(
    'traffic: sends over AMQP, an MQTT device that completes, an offline queue, a refused device, a failed handshake',
    T,
    async () => {
      const online = await hub.createDevice('metrics-online');
      await hub.createDevice('metrics-offline');
      const device = await openMqttDevice(hub, online);
      const service = iothub.Client.fromConnectionString(hub.connectionString('service'));
      try {
        await withTimeout(service.open(), 15_000, 'service open');
        for (let i = 0; i < 3; i++) {
          const m = new common.Message(`m${i}`);
          m.messageId = `metrics-${i}`;
          m.ack = 'full';
          await withTimeout(service.send('metrics-online', m), 15_000, 'service send');
          assert.equal((await device.next()).messageId, `metrics-${i}`);
        }
      } finally {
        await withTimeout(service.close(), 5000, 'service close').catch(() => undefined);
        await device.close();
      }
      for (let i = 0; i < 2; i++) await send(hub, 'metrics-offline', { body: `waits ${i}` });

      // A device with a wrong key: CONNACK refused.
      const refused = mqtt.connect(
        `mqtts://${hub.address}:8883`,
        mqttOptions(hub, online, { password: deviceSas(online, { key: WRONG_KEY }) }),
      );
      refused.on('error', () => undefined);
      await withTimeout(
        new Promise<void>((resolve) => refused.once('close', () => resolve())),
        10_000,
        'refused MQTT close',
      );
      refused.end(true);

      // Not TLS at all on the MQTT/TLS port: a failed handshake.
      const plain = connect({ host: hub.address, port: 8883 });
      plain.on('error', () => undefined);
      plain.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await withTimeout(new Promise((resolve) => plain.once('close', resolve)), 10_000, 'plain socket close');

      // The settles (PUBACKs) are committed after the device got its messages: wait for all three.
      text = await waitFor(
        async () => {
          const t = await scrape(port);
          return (sample(t, 'ferry_c2d_settle_seconds_count') ?? 0) >= 3 ? t : undefined;
        },
        { timeoutMs: 15_000, what: 'three settles in /metrics' },
      );
    },
  );

  test('the scrape passes promtool check metrics', T, () => {
    assert.ok(text, 'the traffic test ran first');
    const r = promtool(['check', 'metrics'], text);
    assert.equal(r.status, 0, r.output);
  });

  test('every family of docs/operations.md is there, with counts where the traffic went', T, () => {
    assert.ok(text, 'the traffic test ran first');
    const positive = (what: string, value: number | undefined) =>
      assert.ok(value !== undefined && value > 0, `${what}: ${value}`);
    positive('resident memory', sample(text, 'process_resident_memory_bytes'));
    positive('CPU', sample(text, 'process_cpu_seconds_total'));
    assert.ok(sample(text, 'nodejs_eventloop_lag_p99_seconds') !== undefined, 'event-loop lag');
    positive('heap spaces', total(text, 'nodejs_heap_space_size_used_bytes'));
    positive('handles', total(text, 'nodejs_active_handles'));
    assert.match(text, /^# TYPE nodejs_gc_duration_seconds histogram$/m);
    positive('group commits', sample(text, 'ferry_store_commit_seconds_count'));
    positive('operations per group', sample(text, 'ferry_store_commit_operations_sum'));
    positive('first deliveries', sample(text, 'ferry_c2d_delivery_seconds_count'));
    positive('settles timed', sample(text, 'ferry_c2d_settle_seconds_count'));
    assert.equal(sample(text, 'ferry_c2d_queue_messages', '{state="Enqueued"}'), 2, 'the offline device waits for two');
    assert.equal(sample(text, 'ferry_c2d_queue_messages', '{state="Invisible"}'), 0, 'every delivery was completed');
    // Each completed message asked for full feedback, and no service has taken it.
    assert.equal(sample(text, 'ferry_feedback_records_pending'), 3);
    positive('MQTT refusals', total(text, 'ferry_refusals_total', 'protocol="mqtt"'));
    positive('failed handshakes', total(text, 'ferry_tls_handshake_failures_total', 'port="8883"'));
    assert.equal(sample(text, 'ferry_c2d_sends_total', '{result="ok"}'), 5);
  });

  test('every query of the Grafana dashboard names a metric the hub exports', T, () => {
    assert.ok(text, 'the traffic test ran first');
    const exported = exportedNames(text);
    const exprs = dashboardExprs();
    assert.ok(exprs.length >= 10, `the dashboard has ${exprs.length} queries`);
    for (const expr of exprs) {
      const names = metricNamesIn(expr);
      assert.ok(names.length > 0, `a dashboard query names no metric: ${expr}`);
      for (const name of names)
        assert.ok(exported.has(name), `the dashboard queries ${name}, not in a scrape: ${expr}`);
    }
  });

  test('the alert rules fire on the series that should fire them, and not before (promtool test rules)', T, () => {
    const r = promtool(['test', 'rules', RULE_TESTS.pathname]);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS/);
  });

  test('the alert rules pass promtool check rules and name metrics the hub exports', T, () => {
    const r = promtool(['check', 'rules', RULES.pathname]);
    assert.equal(r.status, 0, r.output);
    const rules = Number(/SUCCESS: (\d+) rules found/.exec(r.output)?.[1]);
    assert.ok(rules >= 6, r.output);
    assert.ok(text, 'the traffic test ran first');
    const exported = exportedNames(text);
    // Every name in the file, expressions and annotations alike (up{} is Prometheus's own, not matched).
    const names = metricNamesIn(readFileSync(RULES, 'utf8'));
    assert.ok(names.length >= rules, `the rules name ${names.length} metrics`);
    for (const name of names) assert.ok(exported.has(name), `the rules name ${name}, not in a scrape`);
  });
});
