/** A failed listen, told the way an operator needs it: which port, why, and what to do. */
import { FerryError } from '@ferry/common';

export interface BindTarget {
  /** 'https' | 'mqtts' | 'amqps': also the config key under `ports` and the --port-<name> flag. */
  name: string;
  address: string;
  port: number;
  /** The setting that moves this listener's port; default `ports.<name> (--port-<name>)`. */
  portSetting?: string;
  /** The setting that picks its address; default `bind (--bind)`. */
  bindSetting?: string;
}

export function bindError(target: BindTarget, err: NodeJS.ErrnoException): FerryError {
  const where = `${target.address}:${target.port}`;
  const flag = target.portSetting ?? `ports.${target.name} (--port-${target.name})`;
  let text: string;
  switch (err.code) {
    case 'EADDRINUSE':
      text =
        `cannot listen for ${target.name} on ${where}: the port is already in use (EADDRINUSE). ` +
        `Stop the process that holds it (\`ss -ltnp 'sport = :${target.port}'\` shows it), or set ${flag} to another port.`;
      break;
    case 'EACCES':
      text =
        `cannot listen for ${target.name} on ${where}: permission denied (EACCES). ` +
        `Port ${target.port} needs root or CAP_NET_BIND_SERVICE ` +
        '(`sudo setcap cap_net_bind_service=+ep "$(command -v node)"`); or set ' +
        `${flag} to a port above 1023.`;
      break;
    case 'EADDRNOTAVAIL':
      text =
        `cannot listen for ${target.name} on ${where}: ${target.address} is not an address of this machine ` +
        `(EADDRNOTAVAIL). Set ${target.bindSetting ?? 'bind (--bind)'} to one of its addresses, or to 0.0.0.0.`;
      break;
    default:
      text = `cannot listen for ${target.name} on ${where}: ${err.code ?? ''} ${err.message}`.trim();
  }
  return new FerryError('ServiceUnavailable', text, { cause: err });
}
