/**
 * Before a hub opens anything, every port it needs is tried once, so a start-up that collides with
 * another hub (or another program) names all the taken ports in one message, not the first one.
 */
import { createServer } from 'node:net';
import { FerryError } from '@ferry/common';
import { type BindTarget, bindError } from './bind-error.js';

/** What is known of a hub that may already be running (the data dir's hub.json). */
export interface RunningHubHint {
  pid: number;
  dataDir: string;
  startedAt: string;
}

function tryBind(target: BindTarget): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.listen({ port: target.port, host: target.address, exclusive: true }, () =>
      server.close(() => resolve(undefined)),
    );
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Throws one FerryError naming every port in use; other bind failures are told as bindError tells them. */
export async function checkPortsFree(targets: readonly BindTarget[], hint?: RunningHubHint): Promise<void> {
  const taken: BindTarget[] = [];
  for (const target of targets) {
    if (target.port === 0) continue;
    const err = await tryBind(target);
    if (!err) continue;
    if (err.code !== 'EADDRINUSE') throw bindError(target, err);
    taken.push(target);
  }
  if (taken.length === 0) return;
  const list = taken.map((t) => `${t.address}:${t.port} (${t.name})`).join(', ');
  const who =
    hint && hint.pid !== process.pid && isAlive(hint.pid)
      ? `The Ferry hub started at ${hint.startedAt} from ${hint.dataDir} (pid ${hint.pid}) is still running: stop it (\`kill ${hint.pid}\`, or Ctrl+C in its terminal)`
      : `Another Ferry hub, or another program, holds ${taken.length === 1 ? 'it' : 'them'}: stop it (\`ss -ltnp\` shows which process)`;
  const settings = taken.map((t) => t.portSetting ?? `ports.${t.name} (--port-${t.name})`).join(', ');
  throw new FerryError(
    'ServiceUnavailable',
    `cannot start: ${taken.length === 1 ? 'port' : 'ports'} ${list} ${taken.length === 1 ? 'is' : 'are'} already in use (EADDRINUSE). ${who}, or give this hub other ports with ${settings}.`,
  );
}
