/**
 * What a registry change means for a live connection of the device (c2d-semantics.md 7.6: "a
 * disabled device cannot use any device-facing endpoint"; IoT Hub also stops honouring tokens
 * signed with a key that was regenerated). Both stream gateways apply the same verdict.
 */
import type { X509Certificate } from 'node:crypto';
import { type ErrorName, parseSasToken, verifySasSignature } from '@ferry/common';
import { certificateStillAccepted } from '../auth/x509.js';
import type { DeviceIdentity } from '../registry/types.js';

export interface CutOff {
  /** The IoT Hub error the device is cut off with: its AMQP condition, its CONNACK code. */
  error: Extract<ErrorName, 'DeviceNotFound' | 'DeviceDisabled' | 'IotHubUnauthorizedAccess'>;
  reason: string;
}

/**
 * undefined when a connection that authenticated with `token` (or `certificate`) may stay;
 * otherwise why it must go.
 * A policy token (one with skn) does not depend on the device's keys, so only a deletion or a
 * disable cuts it off; a device token also goes when neither current key verifies it.
 */
export function cutOffByChange(
  identity: DeviceIdentity | undefined,
  token: string | undefined,
  certificate?: X509Certificate,
): CutOff | undefined {
  if (!identity) return { error: 'DeviceNotFound', reason: 'the device was deleted from the registry' };
  if (identity.status === 'disabled') return { error: 'DeviceDisabled', reason: 'the device was disabled' };
  if (certificate !== undefined && !certificateStillAccepted(identity, certificate)) {
    return {
      error: 'IotHubUnauthorizedAccess',
      reason: "the connection's certificate no longer matches the device's X.509 authentication",
    };
  }
  if (token !== undefined && !signedByCurrentKey(token, identity)) {
    return {
      error: 'IotHubUnauthorizedAccess',
      reason: "the key that signed the connection's token is no longer one of the device's keys",
    };
  }
  return undefined;
}

/** True for a policy token (not signed by a device key) and for a device token one of the keys verifies. */
function signedByCurrentKey(token: string, identity: DeviceIdentity): boolean {
  let parsed: ReturnType<typeof parseSasToken>;
  try {
    parsed = parseSasToken(token);
  } catch {
    // Not a token the authenticator accepted: the connection's own checks refuse it.
    return true;
  }
  if (parsed.skn !== undefined) return true;
  return verifySasSignature(parsed, [identity.primaryKey, identity.secondaryKey]);
}
