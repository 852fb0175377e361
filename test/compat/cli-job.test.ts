/**
 * `ferry job create|show|list|cancel` and `ferry message send-many --query` against a real hub
 * (built on @ferry/service's JobClient): a twin job tags the devices, send-many gives each
 * selected device its copy and prints its progress, show --devices names each device's result,
 * list filters by type, cancel stops a job scheduled for later; bad flags are exit 2.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { CLI_BIN, type HubProcess, startHub } from './harness.js';
import { peek } from './helpers/jobs.js';

const T = { timeout: 60_000 };

function ferry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_BIN, ...args, '--data-dir', hub.dataDir], (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

let hub: HubProcess;

before(async () => {
  hub = await startHub({ config: { jobs: { pollIntervalMs: 100 } } });
  for (const id of ['cli-j1', 'cli-j2', 'cli-j3']) await hub.createDevice(id);
});

after(async () => {
  await hub?.stop();
});

test('job create (twin), message send-many, job show --devices, job list, job cancel', T, async () => {
  const tag = await ferry([
    'job',
    'create',
    'tag-north',
    '--query',
    "deviceId IN ['cli-j1', 'cli-j2']",
    '--tags',
    '{"site": "north"}',
  ]);
  assert.equal(tag.code, 0, tag.stderr);
  assert.equal((JSON.parse(tag.stdout) as { status: string }).status, 'completed');

  const sent = await ferry([
    'message',
    'send-many',
    'hello north',
    '--query',
    "tags.site = 'north'",
    '--job-id',
    'hello',
    '--message-id',
    'm-north',
    '--ack',
    'full',
  ]);
  assert.equal(sent.code, 0, sent.stderr);
  assert.match(sent.stderr, /hello: completed, 2\/2 succeeded, 0 failed, 0 pending/);
  for (const id of ['cli-j1', 'cli-j2'])
    assert.deepEqual(
      (await peek(hub, id)).map((m) => m.messageId),
      ['m-north'],
    );
  assert.deepEqual(await peek(hub, 'cli-j3'), []);

  const shown = await ferry(['job', 'show', 'hello', '--devices']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /cli-j1\s+completed\s+\{"sequenceNumber":1,"messageId":"m-north"\}/);

  const listed = await ferry(['job', 'list', '--type', 'scheduleCloudToDeviceMessage']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /hello\s+scheduleCloudToDeviceMessage\s+completed\s+2\/2/);
  assert.doesNotMatch(listed.stdout, /tag-north/);

  const later = await ferry([
    'job',
    'create',
    'later',
    '--query',
    "deviceId = 'cli-j3'",
    '--method',
    'reboot',
    '--start',
    '2099-01-01T00:00:00Z',
    '--no-wait',
  ]);
  assert.equal(later.code, 0, later.stderr);
  const cancelled = await ferry(['job', 'cancel', 'later']);
  assert.equal(cancelled.code, 0, cancelled.stderr);
  assert.match(cancelled.stdout, /later: cancelled/);

  const missing = await ferry(['job', 'show', 'nope']);
  assert.equal(missing.code, 1);
  const noQuery = await ferry(['message', 'send-many', 'x']);
  assert.equal(noQuery.code, 2);
  assert.match(noQuery.stderr, /--query/);
});
