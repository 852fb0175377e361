/** What the campaign reads about the hub process from /proc (Linux): memory, liveness, its sockets. */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Resident set size in bytes, or undefined when the process is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie (exited, not yet reaped) still answers signal 0.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Open file descriptors of the process. */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed while we looked
    }
  }
  return inodes;
}

/** "0100007F:1F90" (as /proc/net/tcp writes it, little-endian on x86 and arm64) to "127.0.0.1:8080". */
function endpoint(hex: string): string {
  const [addr = '', port = ''] = hex.split(':');
  const bytes = addr.match(/../g)?.map((b) => Number.parseInt(b, 16)) ?? [];
  return `${bytes.reverse().join('.')}:${Number.parseInt(port, 16)}`;
}

/** A connection as the client sees it: its own address and port, then the hub's port. */
export function connectionKey(clientAddress: string, clientPort: number, hubPort: number): string {
  return `${clientAddress}:${clientPort}>${hubPort}`;
}

export interface HubConnections {
  /** Connections the process holds open as file descriptors (by connectionKey). */
  held: Set<string>;
  /**
   * Established connections to hubAddress that no process holds yet: waiting in the hub's accept
   * queue. A connection in neither set was never accepted (the kernel dropped it when the accept
   * queue overflowed, or it is still half-open in SYN_RECV) or is gone.
   */
  queued: Set<string>;
}

/**
 * The hub's side of its TCP connections. A client socket in `held` means the hub still holds that
 * connection, whatever the client side sees (a client that never reads may never see the hub's
 * FIN). Keyed by the whole connection, not the client's port alone: the kernel gives the same
 * ephemeral port to connections to different ports, so a port alone can name another connection.
 */
export function hubConnections(pid: number, hubAddress: string): HubConnections {
  const inodes = socketInodes(pid);
  const held = new Set<string>();
  const queued = new Set<string>();
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return { held, queued };
  }
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [local, remote, state, inode] = [endpoint(f[1]!), endpoint(f[2]!), f[3], f[9]!];
    const [localAddress, localPort] = local.split(':');
    const key = `${remote}>${localPort}`;
    if (inodes.has(inode)) held.add(key);
    // 01 is ESTABLISHED; with no inode, no process has accepted it yet.
    else if (inode === '0' && state === '01' && localAddress === hubAddress) queued.add(key);
  }
  return { held, queued };
}
