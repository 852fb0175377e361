/**
 * The load side of an end-to-end benchmark runs in a child process: its clients (mqtt.js, rhea,
 * azure-iothub) get their own event loop, heap and RSS, so this process measures the hub alone,
 * as in production where devices and services are elsewhere. (A worker thread would share the
 * RSS, and Node 20 does not reliably apply tsx's loader to workers.) The two sides talk by a tiny
 * request/answer protocol over the IPC channel, with structured-clone serialization so bigint
 * hrtime marks cross it; process.hrtime is CLOCK_MONOTONIC, one clock for both processes.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

type Handler = (arg: unknown) => Promise<unknown>;

interface Request {
  id: number;
  cmd: string;
  arg: unknown;
}

type Answer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

export interface LoadProcess {
  /** Runs the load process's handler `cmd` and resolves with what it returned. */
  call<T>(cmd: string, arg?: unknown): Promise<T>;
  /** Ends the load process (call its own cleanup command first). */
  terminate(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

const built = new Set<string>();

/**
 * `script` bundled into one JavaScript file (its packages left as imports) in node_modules/.cache,
 * where those imports resolve as from the repository: it runs under plain node, without tsx.
 */
function bundled(script: URL): string {
  const out = fileURLToPath(
    new URL(`../../node_modules/.cache/ferry-bench/${basename(script.pathname, '.ts')}.mjs`, import.meta.url),
  );
  // Once per bench run: rewriting the file while a process started from it is still reading it
  // (several load processes of one script) would hand that process half a file.
  if (built.has(out)) return out;
  built.add(out);
  buildSync({
    entryPoints: [fileURLToPath(script)],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'error',
  });
  return out;
}

/**
 * Starts `script` (a .ts module calling serveLoad) with `init` handed to it first; `nodeArgs` are
 * extra node options of that process (V8 flags such as --trace-gc-nvp, which NODE_OPTIONS refuses).
 * `plain`: the script bundled to JavaScript and run without tsx, whose loader thread (Node 20 runs
 * module hooks in a V8 isolate of its own) adds about 38 MiB to the process's RSS: for a process
 * whose memory the bench reports.
 */
export function startLoad(
  script: URL,
  init: unknown,
  nodeArgs: readonly string[] = [],
  options: { plain?: boolean } = {},
): LoadProcess {
  const file = options.plain ? bundled(script) : fileURLToPath(script);
  const child = fork(file, [], {
    execArgv: [...(options.plain ? [] : ['--import', 'tsx']), ...nodeArgs],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  let nextId = 1;
  let gone: Error | undefined;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const failAll = (err: Error) => {
    gone = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  child.on('message', (a: Answer) => {
    const p = pending.get(a.id);
    if (!p) return;
    pending.delete(a.id);
    if (a.ok) p.resolve(a.value);
    else p.reject(new Error(`load process: ${a.error}`));
  });
  child.on('error', (err) => failAll(err));
  child.on('exit', (code, signal) => {
    children.delete(child);
    failAll(new Error(`load process exited (${code ?? signal})`));
  });
  const call = <T>(cmd: string, arg?: unknown): Promise<T> => {
    if (gone) return Promise.reject(gone);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, cmd, arg } satisfies Request);
    });
  };
  // The first request hands over the init data.
  void call('init', init).catch(() => undefined);
  return {
    call,
    async terminate() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Load process: answers the bench's calls. The first message carries the init data; `setup`
 * builds the handlers from it (synchronously, so no call can arrive before them).
 */
export function serveLoad<I>(setup: (init: I) => Record<string, Handler>): void {
  if (!process.send) throw new Error('serveLoad runs in a process started by startLoad only');
  const answer = (a: Answer) => process.send!(a);
  // The bench is gone: nothing more to do.
  process.on('disconnect', () => process.exit(0));
  // terminate(): exit as on any clean end (a --cpu-prof profile is written on exit).
  process.once('SIGTERM', () => process.exit(0));
  // The clients connect to an IP address (the hub's loopback HostName); Node's DEP0123 warning
  // about an IP as TLS ServerName is noise here.
  process.noDeprecation = true;
  let handlers: Record<string, Handler> | undefined;
  process.on('message', (r: Request) => {
    let work: Promise<unknown>;
    if (r.cmd === 'init') {
      handlers = setup(r.arg as I);
      work = Promise.resolve(null);
    } else {
      const handler = handlers?.[r.cmd];
      work = handler ? handler(r.arg) : Promise.reject(new Error(`no handler for ${r.cmd}`));
    }
    work.then(
      (value) => answer({ id: r.id, ok: true, value }),
      (err: unknown) =>
        answer({ id: r.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
}
