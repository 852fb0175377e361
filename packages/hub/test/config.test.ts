import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isFerryError } from '@ferry/common';
import { ConfigError, DEFAULT_CONFIG, envName, parseConfig, parseIsoDuration } from '../src/config/index.js';

/** Runs fn, asserts it throws a ConfigError for `key`, returns the message. */
function configError(fn: () => unknown, key: string): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.ok(isFerryError(err, 'ArgumentInvalid'));
    assert.equal(err.key, key);
    return err.message;
  }
  assert.fail(`expected a ConfigError for ${key}`);
}

describe('defaults', () => {
  test("parseConfig() with nothing gives Azure's defaults", () => {
    const c = parseConfig();
    assert.deepEqual(c, DEFAULT_CONFIG);
    assert.equal(c.c2d.defaultTtlMs, 3_600_000);
    assert.equal(c.c2d.maxTtlMs, 2 * 86_400_000);
    assert.equal(c.c2d.maxDeliveryCount, 10);
    assert.equal(c.c2d.lockTimeoutMs, 60_000);
    assert.equal(c.c2d.maxQueueDepth, 50);
    assert.equal(c.c2d.maxMessageSize, 65_536);
    assert.equal(c.c2d.countLockExpiry, false);
    assert.deepEqual(c.feedback, {
      batchMaxRecords: 64,
      batchDelayMs: 15_000,
      lockDurationMs: 60_000,
      ttlMs: 3_600_000,
      maxDeliveryCount: 10,
    });
    assert.deepEqual(c.events, {
      partitions: 4,
      retentionMs: 86_400_000,
      maxBytes: 1024 ** 3,
      retentionCheckMs: 60_000,
    });
    assert.deepEqual(c.ports, { https: 443, mqtts: 8883, amqps: 5671 });
    assert.deepEqual(c.hosts, ['localhost']);
    assert.equal(c.bind, '0.0.0.0');
    assert.equal(c.dataDir, './ferry-data');
    assert.deepEqual(c.store, { kind: 'sqlite', synchronous: 'FULL' });
    assert.deepEqual(c.mqtt, { maxInflight: 16, maxSubscriptions: 5, maxConnections: 100_000 });
    assert.deepEqual(c.amqp, { idleTimeoutMs: 240_000, maxConnections: 100_000, maxLinksPerConnection: 4096 });
    assert.equal(c.http.maxBodyBytes, 262_144);
    assert.equal(c.log.level, 'info');
    assert.deepEqual(c.observability, { port: 9464, bind: '127.0.0.1', readyStoreTimeoutMs: 5000 });
    assert.deepEqual(c.x509, { disconnectOnCaRemoval: true });
  });

  test('x509.disconnectOnCaRemoval: a boolean from a file or the environment, misspellings refused', () => {
    assert.equal(
      parseConfig({ env: { FERRY_X509_DISCONNECT_ON_CA_REMOVAL: 'false' } }).x509.disconnectOnCaRemoval,
      false,
    );
    assert.equal(parseConfig({ file: { x509: { disconnectOnCaRemoval: false } } }).x509.disconnectOnCaRemoval, false);
    configError(() => parseConfig({ file: { x509: { disconnectOnCaRemoval: 'no' } } }), 'x509.disconnectOnCaRemoval');
    assert.match(
      configError(() => parseConfig({ file: { x509: { disconnectOnCaRemove: false } } }), 'x509.disconnectOnCaRemove'),
      /did you mean x509.disconnectOnCaRemoval/,
    );
  });

  test('the result is frozen all the way down, and so are the defaults', () => {
    const c = parseConfig({ file: { hosts: ['a.example'] } });
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.c2d));
    assert.ok(Object.isFrozen(c.hosts));
    assert.ok(Object.isFrozen(c.store));
    assert.throws(() => {
      (c.c2d as { lockTimeoutMs: number }).lockTimeoutMs = 1;
    }, TypeError);
    assert.throws(() => (c.hosts as string[]).push('b'), TypeError);
    assert.ok(Object.isFrozen(DEFAULT_CONFIG.ports));
  });

  test('parsing does not share arrays with its input', () => {
    const hosts = ['a.example'];
    const c = parseConfig({ file: { hosts } });
    hosts.push('b.example');
    assert.deepEqual(c.hosts, ['a.example']);
  });
});

describe('merge order: defaults < file < env < flags', () => {
  test('each layer overrides the one before, key by key', () => {
    const c = parseConfig({
      file: { c2d: { lockTimeoutMs: 1000, maxQueueDepth: 7 }, dataDir: '/from-file', log: { level: 'debug' } },
      env: { FERRY_C2D_LOCK_TIMEOUT_MS: '2000', FERRY_DATA_DIR: '/from-env' },
      flags: { dataDir: '/from-flags' },
    });
    assert.equal(c.c2d.lockTimeoutMs, 2000);
    assert.equal(c.c2d.maxQueueDepth, 7);
    assert.equal(c.dataDir, '/from-flags');
    assert.equal(c.log.level, 'debug');
    assert.equal(c.c2d.maxDeliveryCount, 10);
  });

  test('environment: comma lists, numbers, booleans, enums', () => {
    const c = parseConfig({
      env: {
        FERRY_HOSTS: 'hub.example, 127.0.0.2',
        FERRY_PORTS_HTTPS: '8443',
        FERRY_C2D_COUNT_LOCK_EXPIRY: 'true',
        FERRY_LOG_LEVEL: 'WARN',
        FERRY_STORE_SYNCHRONOUS: 'normal',
        FERRY_OBSERVABILITY_PORT: '0',
        FERRY_OBSERVABILITY_BIND: '0.0.0.0',
        PATH: '/usr/bin',
        FERRY_CONNECTION_STRING: 'not a config variable, ignored',
      },
    });
    assert.deepEqual(c.hosts, ['hub.example', '127.0.0.2']);
    assert.equal(c.ports.https, 8443);
    assert.equal(c.c2d.countLockExpiry, true);
    assert.equal(c.log.level, 'warn');
    assert.deepEqual(c.store, { kind: 'sqlite', synchronous: 'NORMAL' });
    assert.deepEqual(c.observability, { port: 0, bind: '0.0.0.0', readyStoreTimeoutMs: 5000 });
  });

  test('undefined flags leave the lower layers alone', () => {
    const c = parseConfig({
      file: { bind: '127.0.0.1' },
      flags: { bind: undefined, ports: { https: undefined, mqtts: 18883 } },
    });
    assert.equal(c.bind, '127.0.0.1');
    assert.deepEqual(c.ports, { https: 443, mqtts: 18883, amqps: 5671 });
  });

  test('variable names follow the dotted path', () => {
    assert.equal(envName('c2d.lockTimeoutMs'), 'FERRY_C2D_LOCK_TIMEOUT_MS');
    assert.equal(envName('dataDir'), 'FERRY_DATA_DIR');
    assert.equal(envName('ports.https'), 'FERRY_PORTS_HTTPS');
    assert.equal(envName('log.level'), 'FERRY_LOG_LEVEL');
    assert.equal(envName('observability.port'), 'FERRY_OBSERVABILITY_PORT');
  });
});

describe('unknown keys', () => {
  test('a misspelled key is refused by name, with the closest valid one', () => {
    const message = configError(() => parseConfig({ file: { c2d: { lockTimeotMs: 5 } } }), 'c2d.lockTimeotMs');
    assert.match(message, /unknown option c2d\.lockTimeotMs — did you mean c2d\.lockTimeoutMs\?/);
  });

  test('a misspelled group is refused too', () => {
    const message = configError(() => parseConfig({ flags: { feedbak: { ttlMs: 5 } } }), 'feedbak');
    assert.match(message, /unknown option feedbak — did you mean feedback\?/);
  });

  test('a key far from any other gets no suggestion', () => {
    const message = configError(() => parseConfig({ file: { zzzzzzzzzzzz: 1 } }), 'zzzzzzzzzzzz');
    assert.doesNotMatch(message, /did you mean/);
  });

  test('a group given a scalar is refused', () => {
    configError(() => parseConfig({ file: { c2d: 5 } }), 'c2d');
  });

  test('a FERRY_ variable one typo away from a real one is refused; unrelated FERRY_ names are not', () => {
    const message = configError(
      () => parseConfig({ env: { FERRY_C2D_LOCK_TIMEOT_MS: '5' } }),
      'FERRY_C2D_LOCK_TIMEOT_MS',
    );
    assert.match(message, /did you mean FERRY_C2D_LOCK_TIMEOUT_MS\?/);
    assert.doesNotThrow(() => parseConfig({ env: { FERRY_TEST_CA_DIR: '/tmp/x', FERRY_CONNECTION_STRING: 'x' } }));
  });
});

describe('ranges and types', () => {
  test("events: retention within IoT Hub's 1-7 days, partitions 1..32, a size cap of at least 1 MiB", () => {
    configError(() => parseConfig({ file: { events: { retentionMs: 500 } } }), 'events.retentionMs');
    assert.equal(parseConfig({ file: { events: { retentionMs: 'PT1H' } } }).events.retentionMs, 3_600_000);
    configError(() => parseConfig({ file: { events: { retentionMs: 'P8D' } } }), 'events.retentionMs');
    assert.equal(parseConfig({ file: { events: { retentionMs: 'P7D' } } }).events.retentionMs, 7 * 86_400_000);
    configError(() => parseConfig({ file: { events: { partitions: 0 } } }), 'events.partitions');
    configError(() => parseConfig({ file: { events: { partitions: 33 } } }), 'events.partitions');
    configError(() => parseConfig({ file: { events: { maxBytes: 1000 } } }), 'events.maxBytes');
    assert.equal(parseConfig({ env: { FERRY_EVENTS_PARTITIONS: '8' } }).events.partitions, 8);
  });

  test('maxDeliveryCount must be 1..100', () => {
    assert.match(
      configError(() => parseConfig({ file: { c2d: { maxDeliveryCount: 0 } } }), 'c2d.maxDeliveryCount'),
      /c2d\.maxDeliveryCount must be a whole number from 1 to 100, got 0 \(in config file\)/,
    );
    configError(() => parseConfig({ file: { c2d: { maxDeliveryCount: 101 } } }), 'c2d.maxDeliveryCount');
    configError(() => parseConfig({ file: { c2d: { maxDeliveryCount: 2.5 } } }), 'c2d.maxDeliveryCount');
    assert.equal(parseConfig({ file: { c2d: { maxDeliveryCount: 100 } } }).c2d.maxDeliveryCount, 100);
  });

  test('ports 0..65535; a word in the environment says where it came from', () => {
    configError(() => parseConfig({ flags: { ports: { https: 70000 } } }), 'ports.https');
    assert.match(
      configError(() => parseConfig({ env: { FERRY_PORTS_MQTTS: 'abc' } }), 'ports.mqtts'),
      /got "abc" \(from environment variable FERRY_PORTS_MQTTS\)/,
    );
    assert.match(
      configError(() => parseConfig({ flags: { ports: { amqps: 'x' } } }), 'ports.amqps'),
      /from the command line/,
    );
    configError(() => parseConfig({ file: { observability: { port: -1 } } }), 'observability.port');
  });

  test('observability.readyStoreTimeoutMs: 100 ms to an hour, a number or an ISO 8601 duration', () => {
    configError(
      () => parseConfig({ file: { observability: { readyStoreTimeoutMs: 99 } } }),
      'observability.readyStoreTimeoutMs',
    );
    configError(
      () => parseConfig({ env: { FERRY_OBSERVABILITY_READY_STORE_TIMEOUT_MS: 'soon' } }),
      'observability.readyStoreTimeoutMs',
    );
    assert.equal(
      parseConfig({ file: { observability: { readyStoreTimeoutMs: 'PT2S' } } }).observability.readyStoreTimeoutMs,
      2000,
    );
    assert.equal(
      parseConfig({ env: { FERRY_OBSERVABILITY_READY_STORE_TIMEOUT_MS: '750' } }).observability.readyStoreTimeoutMs,
      750,
    );
  });

  test('a number given as a string in a file is refused (only the environment is text)', () => {
    configError(() => parseConfig({ file: { c2d: { maxQueueDepth: '5' } } }), 'c2d.maxQueueDepth');
  });

  test('enums list their values', () => {
    assert.match(
      configError(() => parseConfig({ file: { log: { level: 'loud' } } }), 'log.level'),
      /one of "fatal", "error", "warn", "info", "debug", "trace", "silent"/,
    );
  });

  test('hosts: a non-empty list of names or addresses, duplicates dropped', () => {
    configError(() => parseConfig({ file: { hosts: [] } }), 'hosts');
    configError(() => parseConfig({ file: { hosts: ['bad host'] } }), 'hosts');
    configError(() => parseConfig({ file: { hosts: ['[::1]'] } }), 'hosts');
    assert.deepEqual(parseConfig({ file: { hosts: ['A.example', 'a.example', '::1'] } }).hosts, ['A.example', '::1']);
  });

  test('defaultTtlMs may not exceed maxTtlMs', () => {
    configError(() => parseConfig({ file: { c2d: { defaultTtlMs: 'P3D' } } }), 'c2d.defaultTtlMs');
  });

  test('tls.certFile and tls.keyFile go together', () => {
    configError(() => parseConfig({ file: { tls: { certFile: '/c.pem' } } }), 'tls.keyFile');
    const c = parseConfig({ file: { tls: { certFile: '/c.pem', keyFile: '/k.pem' } } });
    assert.deepEqual(c.tls, { certFile: '/c.pem', keyFile: '/k.pem' });
  });

  test('store: postgres needs a url, sqlite takes a path', () => {
    configError(() => parseConfig({ file: { store: { kind: 'postgres' } } }), 'store.url');
    assert.deepEqual(parseConfig({ env: { FERRY_STORE_KIND: 'postgres', FERRY_STORE_URL: 'postgres://x' } }).store, {
      kind: 'postgres',
      url: 'postgres://x',
      schema: 'ferry',
    });
    assert.deepEqual(parseConfig({ file: { store: { path: '/db.sqlite' } } }).store, {
      kind: 'sqlite',
      path: '/db.sqlite',
      synchronous: 'FULL',
    });
  });

  test('store.worker puts SQLite in a worker thread when true', () => {
    assert.deepEqual(parseConfig({ env: { FERRY_STORE_WORKER: 'true' } }).store, {
      kind: 'sqlite',
      synchronous: 'FULL',
      worker: true,
    });
    assert.deepEqual(parseConfig({ file: { store: { worker: false } } }).store, {
      kind: 'sqlite',
      synchronous: 'FULL',
    });
    configError(() => parseConfig({ file: { store: { worker: 'yes' } } }), 'store.worker');
  });

  test("store.pageCacheMb caps SQLite's page cache: a whole number of MiB, SQLite only", () => {
    assert.deepEqual(parseConfig({ env: { FERRY_STORE_PAGE_CACHE_MB: '16' } }).store, {
      kind: 'sqlite',
      synchronous: 'FULL',
      pageCacheMb: 16,
    });
    assert.deepEqual(parseConfig({ file: { store: { pageCacheMb: 2 } } }).store, {
      kind: 'sqlite',
      synchronous: 'FULL',
      pageCacheMb: 2,
    });
    configError(() => parseConfig({ file: { store: { pageCacheMb: 0 } } }), 'store.pageCacheMb');
    configError(() => parseConfig({ file: { store: { pageCacheMb: 1.5 } } }), 'store.pageCacheMb');
    configError(() => parseConfig({ file: { store: { pageCachMb: 8 } } }), 'store.pageCachMb');
    configError(() => parseConfig({ file: { store: { url: 'postgres://x', pageCacheMb: 8 } } }), 'store.pageCacheMb');
  });
});

describe('store: postgres', () => {
  test('store.url alone selects postgres; store.schema is taken', () => {
    assert.deepEqual(parseConfig({ flags: { store: { url: 'postgresql://h/db', schema: 'hub_b' } } }).store, {
      kind: 'postgres',
      url: 'postgresql://h/db',
      schema: 'hub_b',
    });
  });

  test('options of the other store kind, a bad url or schema are refused by name', () => {
    configError(() => parseConfig({ file: { store: { kind: 'sqlite', url: 'postgres://x' } } }), 'store.url');
    configError(() => parseConfig({ file: { store: { schema: 'x' } } }), 'store.schema');
    configError(() => parseConfig({ file: { store: { url: 'postgres://x', path: '/db' } } }), 'store.path');
    configError(() => parseConfig({ env: { FERRY_STORE_URL: 'mysql://x' } }), 'store.url');
    configError(
      () => parseConfig({ env: { FERRY_STORE_URL: 'postgres://x', FERRY_STORE_SCHEMA: 'Bad-Name' } }),
      'store.schema',
    );
  });
});

describe('durations', () => {
  test('*Ms fields take milliseconds or ISO 8601', () => {
    const c = parseConfig({
      file: { c2d: { defaultTtlMs: 'PT30M', maxTtlMs: 'P2D' }, feedback: { batchDelayMs: 'PT0S' } },
      env: { FERRY_C2D_LOCK_TIMEOUT_MS: 'PT1.5S' },
    });
    assert.equal(c.c2d.defaultTtlMs, 1_800_000);
    assert.equal(c.c2d.maxTtlMs, 172_800_000);
    assert.equal(c.c2d.lockTimeoutMs, 1500);
    assert.equal(c.feedback.batchDelayMs, 0);
  });

  test('bad durations are refused with the accepted forms named', () => {
    assert.match(
      configError(() => parseConfig({ file: { c2d: { lockTimeoutMs: '1 minute' } } }), 'c2d.lockTimeoutMs'),
      /ISO 8601/,
    );
    configError(() => parseConfig({ file: { c2d: { lockTimeoutMs: 'PT2H' } } }), 'c2d.lockTimeoutMs');
    configError(() => parseConfig({ file: { c2d: { lockTimeoutMs: -1 } } }), 'c2d.lockTimeoutMs');
  });

  test('parseIsoDuration', () => {
    assert.equal(parseIsoDuration('PT1H'), 3_600_000);
    assert.equal(parseIsoDuration('P1DT1M'), 86_460_000);
    assert.equal(parseIsoDuration('P1W'), 604_800_000);
    assert.equal(parseIsoDuration('pt10s'), 10_000);
    for (const bad of ['P', 'PT', 'P1Y', 'P1M', '1H', 'PT1H2', '', 'PTH']) {
      assert.equal(parseIsoDuration(bad), undefined, bad);
    }
  });
});
