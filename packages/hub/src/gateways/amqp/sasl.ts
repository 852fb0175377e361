/**
 * SASL for the AMQP gateway (c2d-semantics.md 5.3). rhea picks the layer from the header: a plain
 * `AMQP 0 1 0 0` (what the official Node clients send, official-sdk-wire.md G.1) skips SASL; a
 * SASL header is offered ANONYMOUS (then CBS), MSSBCBS (the same, as Azure's AMQP services name it
 * and the Azure IoT C SDK asks for it) and PLAIN with username `{policy}@sas.root.{hub}` or
 * `{deviceId}@sas.{hub}` and the SAS token as password.
 */
import { FerryError } from '@ferry/common';
import type { Principal } from '../../auth/types.js';

export interface PlainCredentials {
  username: string;
  password: string;
}

/** Checks the PLAIN username against the principal its token produced. Throws FerryError IotHubUnauthorizedAccess. */
export function checkPlainUsername(username: string, principal: Principal): void {
  const root = /^(.+)@sas\.root\.[^@]+$/i.exec(username);
  if (root) {
    if (principal.kind === 'policy' && principal.policyName.toLowerCase() === root[1]!.toLowerCase()) return;
    throw new FerryError('IotHubUnauthorizedAccess', `The token is not for policy "${root[1]}"`);
  }
  const device = /^(.+)@sas\.[^@]+$/i.exec(username);
  if (device) {
    if (principal.kind === 'device' && principal.deviceId === device[1]) return;
    throw new FerryError('IotHubUnauthorizedAccess', `The token is not for device "${device[1]}"`);
  }
  throw new FerryError(
    'IotHubUnauthorizedAccess',
    'SASL PLAIN username must be {policy}@sas.root.{hub} or {deviceId}@sas.{hub}',
  );
}

/** Splits a PLAIN initial response `[authzid] NUL authcid NUL passwd` (RFC 4616). */
export function parsePlainResponse(response: unknown): PlainCredentials | undefined {
  if (!Buffer.isBuffer(response)) return undefined;
  const parts = response.toString('utf8').split('\0');
  if (parts.length !== 3 || !parts[1] || !parts[2]) return undefined;
  return { username: parts[1], password: parts[2] };
}

/**
 * A rhea server mechanism (the shape of rhea/lib/sasl.js PlainServer): `start` resolves, then rhea
 * reads `outcome` and writes the sasl-outcome frame.
 */
export class PlainMechanism {
  outcome: boolean | undefined = undefined;
  username: string | undefined = undefined;

  constructor(
    private readonly verify: (credentials: PlainCredentials) => Promise<boolean>,
    private readonly onFailed: () => void,
  ) {}

  async start(response: unknown): Promise<void> {
    const credentials = parsePlainResponse(response);
    const ok = credentials !== undefined && (await this.verify(credentials).catch(() => false));
    this.outcome = ok;
    if (ok) this.username = credentials?.username;
    // rhea writes the failed outcome after this promise settles; close the connection after that.
    else setImmediate(this.onFailed);
  }
}

/**
 * SASL EXTERNAL (offered only to a connection that presented a TLS client certificate): the
 * outcome is ok at once; which device the certificate proves is checked when a link attaches.
 */
export class ExternalMechanism {
  outcome: boolean | undefined = undefined;
  username: string | undefined = undefined;

  start(): void {
    this.outcome = true;
  }
}

/**
 * SASL MSSBCBS, the CBS mechanism of Azure's AMQP services, which the Azure IoT C SDK asks for: it
 * means "anonymous now, a CBS token follows". The outcome is ok at once; every link is authorized
 * later by the tokens put on `$cbs`, as after ANONYMOUS.
 */
export class CbsMechanism {
  outcome: boolean | undefined = undefined;
  username: string | undefined = undefined;

  start(): void {
    this.outcome = true;
  }
}
