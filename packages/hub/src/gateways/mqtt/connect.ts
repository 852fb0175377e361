/**
 * CONNECT: who the device is (clientId, username, SAS password), whether it may connect, which
 * connection it replaces, and which session it resumes. Refusals carry the CONNACK code the
 * official client understands: 4 and 5 are final for it, 3 makes it retry.
 */
import { isFerryError } from '@ferry/common';
import type { IConnectPacket } from 'mqtt-packet';
import type { Principal } from '../../auth/types.js';
import type { ClientCertificate } from '../../auth/x509.js';
import type { MqttSessionRecord } from '../../store/types.js';
import type { MqttConnection } from './connection.js';
import { checkUsername } from './username.js';

/** CONNACK return codes of MQTT 3.1.1 (table 3.1). */
export const CONNACK = {
  accepted: 0,
  unacceptableProtocolVersion: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUsernameOrPassword: 4,
  notAuthorized: 5,
} as const;

export async function handleConnect(conn: MqttConnection, packet: IConnectPacket): Promise<void> {
  const { ctx, sessions } = conn.owner;
  const clientId = packet.clientId;
  conn.claimedId = clientId || undefined;

  if (packet.protocolId !== 'MQTT' || packet.protocolVersion !== 4) {
    return conn.refuse(
      CONNACK.unacceptableProtocolVersion,
      `only MQTT 3.1.1 is supported, got ${packet.protocolId} level ${packet.protocolVersion}`,
    );
  }
  if (!clientId) return conn.refuse(CONNACK.identifierRejected, 'the client id must be the device id'); // MQTT-3.1.3-8
  const password = packet.password?.toString('utf8') ?? '';
  // X.509 (x509=true): no password, the certificate of the TLS handshake proves the device.
  const certificates = password === '' ? conn.info.clientCertificates : undefined;
  if (packet.username === undefined || (password === '' && !certificates)) {
    return conn.refuse(
      CONNACK.badUsernameOrPassword,
      'a username and a password (a SAS token) or a client certificate are required',
    );
  }
  const usernameCheck = checkUsername(packet.username, clientId, ctx.config.hosts);
  if (!usernameCheck.ok) return conn.refuse(CONNACK.badUsernameOrPassword, usernameCheck.why);
  // A device replacing its own connection does not add one.
  if (conn.owner.establishedCount >= ctx.config.mqtt.maxConnections && !conn.owner.hasDevice(clientId)) {
    return conn.refuse(
      CONNACK.serverUnavailable,
      `the hub already has ${ctx.config.mqtt.maxConnections} MQTT connections (mqtt.maxConnections)`,
      'max-connections',
    );
  }

  conn.clientId = clientId;
  conn.token = certificates ? undefined : password;
  conn.certificate = certificates?.chain[0];
  conn.owner.authenticate(conn);
  const auth = certificates
    ? await authorizeCertificate(conn, clientId, certificates)
    : await authorize(conn, clientId, password);
  if (!auth.ok) return conn.refuse(auth.code, auth.why, auth.cause);
  if (conn.closed) return;
  // Kept in the same tick as the check: a CA removed from now on cuts this connection.
  conn.viaCas = auth.principal.kind === 'device' ? auth.principal.viaCas : undefined;
  if (conn.viaCas && ctx.caTrust && !ctx.caTrust.trusts(conn.viaCas)) {
    return conn.refuse(CONNACK.notAuthorized, 'the CA certificate of its chain was deleted or is no longer verified');
  }

  // One connection per device: the newest wins (as IoT Hub does). Its in-flight messages are
  // released before this session starts, so they come first and in order.
  const previous = conn.owner.claim(clientId, conn);
  if (previous) {
    conn.logger.info({ deviceId: clientId }, 'a new MQTT connection takes over from the previous one');
    await previous.close('taken over by a new connection of the same device', 'info');
  }
  if (conn.closed) return;

  const cleanSession = packet.clean !== false;
  let sessionPresent = false;
  let c2dQos: 0 | 1 | null = null;
  let twinSubs: MqttSessionRecord['twin'];
  let methodsSubscribed = false;
  try {
    if (cleanSession) {
      await sessions.deleteMqttSession(clientId); // MQTT-3.1.2-6
    } else {
      const stored = await sessions.getMqttSession(clientId);
      sessionPresent = stored !== undefined;
      c2dQos = stored?.c2dQos ?? null;
      twinSubs = stored?.twin;
      methodsSubscribed = stored?.methods === true;
      // Cut off meanwhile (the device deleted): do not leave a session behind for its id.
      if (conn.closed) return;
      if (!stored) await sessions.putMqttSession({ deviceId: clientId, c2dQos: null });
    }
  } catch (err) {
    conn.logger.error({ err, deviceId: clientId }, 'MQTT session store failed');
    return conn.refuse(CONNACK.serverUnavailable, 'the session store is unavailable');
  }
  if (conn.closed) return;

  conn.establish({
    deviceId: clientId,
    cleanSession,
    sessionPresent,
    c2dQos,
    twinSubs,
    methodsSubscribed,
    keepaliveSeconds: packet.keepalive ?? 0,
    // The principal's expiry already includes the authenticator's clock skew (or is the certificate's).
    tokenExpiresAt: auth.principal.expiresAt,
  });
}

/** `cause`: a stable word for the refusal log's counts (refusal-throttle.ts), when `why` varies. */
type Refusal = { ok: false; code: number; why: string; cause?: string };
type AuthResult = { ok: true; principal: Principal } | Refusal;

async function authorize(conn: MqttConnection, deviceId: string, token: string): Promise<AuthResult> {
  const { ctx } = conn.owner;
  let principal: Principal;
  try {
    principal = await ctx.auth.authenticate(token);
  } catch (err) {
    return authFailure(conn, err);
  }
  if (!ctx.auth.can(principal, { permission: 'DeviceConnect', deviceId })) {
    return { ok: false, code: CONNACK.notAuthorized, why: 'the token does not grant DeviceConnect for this device' };
  }
  try {
    // A policy token says nothing about the device itself.
    const identity = await ctx.registry.identity(deviceId);
    if (!identity) return { ok: false, code: CONNACK.notAuthorized, why: 'no such device' };
    if (identity.status === 'disabled')
      return { ok: false, code: CONNACK.serverUnavailable, why: 'the device is disabled' };
  } catch (err) {
    return authFailure(conn, err);
  }
  return { ok: true, principal };
}

async function authorizeCertificate(
  conn: MqttConnection,
  deviceId: string,
  certificates: ClientCertificate,
): Promise<AuthResult> {
  const { x509 } = conn.owner.ctx;
  if (!x509) return { ok: false, code: CONNACK.notAuthorized, why: 'this hub does not take X.509 certificates' };
  try {
    return { ok: true, principal: await x509.authenticate(deviceId, certificates) };
  } catch (err) {
    return authFailure(conn, err);
  }
}

function authFailure(conn: MqttConnection, err: unknown): Refusal {
  if (isFerryError(err, 'DeviceDisabled'))
    return { ok: false, code: CONNACK.serverUnavailable, why: 'the device is disabled' };
  if (isFerryError(err)) {
    // Unauthorized (bad signature, expired, unknown policy...) -> 5; a hub-side failure -> 3 (retried).
    const code = err.httpStatus >= 500 ? CONNACK.serverUnavailable : (err.connack ?? CONNACK.notAuthorized);
    return { ok: false, code, why: `${err.errorName}: ${err.message}`, cause: err.errorName };
  }
  conn.logger.error({ err }, 'MQTT CONNECT: authentication failed unexpectedly');
  return { ok: false, code: CONNACK.serverUnavailable, why: 'internal error' };
}
