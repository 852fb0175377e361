/**
 * Issue 27 item 5 against a real hub: the dead letters and a message's history through @ferry/service
 * (listDeadLetters, requeueDeadLetter, deleteDeadLetter, messageHistory) and the built CLI
 * (`ferry message dead-letters|requeue|history`): a readable timeline, --all with progress, and
 * the usage errors of the other commands (a misspelled option named, a missing argument).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type FerryError, ServiceClient } from '@ferry/service';
import { CLI_BIN, type HubProcess, startHub } from './harness.js';
import { receive, settle } from './helpers/device-raw.js';
import { send } from './helpers/send.js';

const T = { timeout: 90_000 };
let hub: HubProcess;
let service: ServiceClient;

before(async () => {
  hub = await startHub({});
  service = ServiceClient.fromConnectionString(hub.ownerConnectionString, { ca: readFileSync(hub.caFile, 'utf8') });
});

after(async () => {
  await service?.close();
  await hub?.stop();
});

/** The built CLI against the test hub: exit code, stdout, stderr. */
function ferry(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const target = ['--connection-string', hub.ownerConnectionString, '--ca', hub.caFile];
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_BIN, ...args, ...target], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

test('the history of a message abandoned twice then completed, from the SDK and as a timeline', T, async () => {
  const cs = await hub.createDevice('ch1');
  await send(hub, 'ch1', { messageId: 'cli-story', ack: 'full', body: 'x' });
  for (const how of ['abandon', 'abandon', 'complete'] as const)
    await settle(hub, cs, how, (await receive(hub, cs))!.lockToken);

  const h = await service.messageHistory('ch1', 'cli-story');
  const steps = h.copies[0]!.steps;
  assert.deepEqual(
    steps.map((s) => s.kind),
    ['enqueued', 'delivered', 'abandoned', 'delivered', 'abandoned', 'delivered', 'completed'],
  );
  assert.deepEqual(
    [steps[0]!.policy, steps[1]!.protocol, steps[6]!.feedback?.statusCode],
    ['service', 'https', 'Success'],
  );
  assert.ok(steps.every((s, i) => Number.isFinite(s.time) && (i === 0 || s.time >= steps[i - 1]!.time)));

  const r = await ferry('message', 'history', 'ch1', 'cli-story');
  assert.equal(r.code, 0, r.stderr);
  const kinds = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('  '))
    .map((l) => l.trim().split(/\s+/)[2]);
  assert.deepEqual(
    kinds,
    steps.map((s) => s.kind),
  );
  assert.match(r.stdout, /delivered +over https, lock token /);
  assert.match(r.stdout, /completed +delivery count 2, feedback Success/);
  const json = await ferry('message', 'history', 'ch1', 'cli-story', '--json');
  assert.deepEqual(JSON.parse(json.stdout), h);
  const none = await ferry('message', 'history', 'ch1', 'never-sent');
  assert.match(none.stdout, /No history kept for message never-sent/);
});

test('dead letters: listed, requeued one by one or --all with progress, deleted; errors', T, async () => {
  const cs = await hub.createDevice('ch2');
  for (const id of ['r1', 'r2', 'r3']) {
    await send(hub, 'ch2', { messageId: id });
    await settle(hub, cs, 'reject', (await receive(hub, cs))!.lockToken);
  }
  const letters = await service.listDeadLetters('ch2');
  assert.deepEqual(
    letters.map((d) => [d.messageId, d.reason]),
    [
      ['r1', 'Rejected'],
      ['r2', 'Rejected'],
      ['r3', 'Rejected'],
    ],
  );
  const listed = await ferry('message', 'dead-letters', 'ch2');
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stdout.match(/Rejected/g)?.length, 3);

  await service.deleteDeadLetter('ch2', letters[0]!.sequenceNumber);
  await assert.rejects(service.requeueDeadLetter('ch2', letters[0]!.sequenceNumber), (err: FerryError) => {
    assert.equal(err.errorName, 'NotFound');
    return true;
  });
  const all = await ferry('message', 'requeue', 'ch2', '--all');
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stderr, /\[1\/2\] .*r2/);
  assert.match(all.stderr, /\[2\/2\] .*r3/);
  assert.match(all.stdout, /Requeued 2 dead letters of ch2/);
  assert.deepEqual(await service.listDeadLetters('ch2'), []);
  assert.equal((await receive(hub, cs))?.headers['iothub-messageid'], 'r2', 'requeued at the tail, in order');

  const typo = await ferry('message', 'dead-letters', 'ch2', '--tpo', '5');
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown option --tpo — did you mean --top\?/);
  const missing = await ferry('message', 'requeue', 'ch2');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /needs a sequence number or --all/);
  const unknown = await ferry('message', 'history', 'nobody', 'x');
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /nobody/);
});
