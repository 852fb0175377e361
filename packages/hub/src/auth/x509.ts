/**
 * X.509 device authentication (DESIGN decision 15; c2d-semantics.md 5.5). The TLS listeners ask
 * for a client certificate without requiring one; a gateway hands the certificates a device
 * presented (leaf first) and the device id it claims to this authenticator:
 * - `selfSigned` devices: the leaf's SHA-1 or SHA-256 thumbprint is the primary or secondary one;
 * - `certificateAuthority` devices: the leaf's subject CN is the device id and it chains (through
 *   intermediates the client sent) to a verified CA certificate of the hub.
 * Every certificate used must be valid now. Failures are IotHubUnauthorizedAccess (CONNACK 5,
 * amqp:unauthorized-access, HTTP 401); a disabled device is DeviceDisabled, as with SAS.
 */
import type { X509Certificate } from 'node:crypto';
import { FerryError } from '@ferry/common';
import type { Clock } from '../clock.js';
import type { DeviceIdentity, Registry } from '../registry/types.js';
import type { Principal } from './types.js';

/** Longest chain walked from the leaf to a hub CA (leaf, intermediates, CA). */
const MAX_CHAIN_DEPTH = 8;

/** Where the verified hub CA certificates come from (read on every authentication: they may change). */
export interface VerifiedCaSource {
  verifiedCaCertificates(): Promise<readonly X509Certificate[]>;
}

export interface X509AuthenticatorOptions {
  registry: Pick<Registry, 'identity'>;
  caCertificates: VerifiedCaSource;
  clock: Clock;
}

function unauthorized(message: string): FerryError {
  return new FerryError('IotHubUnauthorizedAccess', message);
}

/** A thumbprint as compared: hex digits only, upper case (`ab:cd` and `ABCD` are the same). */
export function normalizeThumbprint(t: string): string {
  return t.replace(/[^0-9A-Fa-f]/g, '').toUpperCase();
}

/** The SHA-1 and SHA-256 thumbprints of a certificate, as IoT Hub writes them (upper-case hex). */
export function thumbprintsOf(cert: X509Certificate): { sha1: string; sha256: string } {
  return { sha1: normalizeThumbprint(cert.fingerprint), sha256: normalizeThumbprint(cert.fingerprint256) };
}

/** Undoes Node's RFC 4514 escaping of a subject value: `\,` -> `,`, `\0A` -> newline. */
function unescapeDn(value: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '\\' && i + 1 < value.length) {
      const hex = value.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        bytes.push(Number.parseInt(hex, 16));
        i += 2;
      } else {
        bytes.push(...Buffer.from(value[i + 1]!, 'utf8'));
        i += 1;
      }
    } else {
      bytes.push(...Buffer.from(ch, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The subject common name of a certificate, or undefined when it has none. */
export function commonNameOf(cert: X509Certificate): string | undefined {
  const line = cert.subject.split('\n').find((l) => l.startsWith('CN='));
  return line === undefined ? undefined : unescapeDn(line.slice(3));
}

/** Why the certificate is not valid at `now`, or undefined when it is. */
export function validityProblem(
  cert: X509Certificate,
  now: number,
  what = 'the client certificate',
): string | undefined {
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (!(now >= notBefore)) return `${what} is not valid before ${new Date(notBefore).toISOString()}`;
  if (!(now <= notAfter)) return `${what} expired at ${new Date(notAfter).toISOString()}`;
  return undefined;
}

/** True when `issuer` issued and signed `cert`. */
export function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * The expiry (ms) of a chain from `leaf` to one of `anchors` through `intermediates`, every
 * certificate of it valid at `now`; undefined when there is no such chain.
 */
export function chainExpiry(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  now: number,
): number | undefined {
  let current = leaf;
  let expiry = Date.parse(leaf.validTo);
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    const anchor = anchors.find((a) => issuedBy(current, a) && validityProblem(a, now) === undefined);
    if (anchor) return Math.min(expiry, Date.parse(anchor.validTo));
    const next = intermediates.find(
      (i) => i !== current && i.ca && issuedBy(current, i) && validityProblem(i, now) === undefined,
    );
    if (!next) return undefined;
    expiry = Math.min(expiry, Date.parse(next.validTo));
    current = next;
  }
  return undefined;
}

function thumbprintMatches(identity: DeviceIdentity, cert: X509Certificate): boolean {
  const { sha1, sha256 } = thumbprintsOf(cert);
  return [identity.primaryThumbprint, identity.secondaryThumbprint].some(
    (t) => t !== null && (normalizeThumbprint(t) === sha1 || normalizeThumbprint(t) === sha256),
  );
}

/**
 * True when a device connected with `leaf` may stay connected after a registry change: still an
 * X.509 device of the same kind, and (selfSigned) its certificate still one of the thumbprints.
 */
export function certificateStillAccepted(identity: DeviceIdentity, leaf: X509Certificate): boolean {
  if (identity.authType === 'selfSigned') return thumbprintMatches(identity, leaf);
  return identity.authType === 'certificateAuthority';
}

export class X509Authenticator {
  constructor(private readonly opts: X509AuthenticatorOptions) {}

  /** The device principal for `deviceId` proven by `chain` (leaf first), or a FerryError. */
  async authenticate(deviceId: string, chain: readonly X509Certificate[]): Promise<Principal> {
    const [leaf, ...intermediates] = chain;
    if (!leaf) throw unauthorized('No client certificate was presented');
    const now = this.opts.clock.now();
    const invalid = validityProblem(leaf, now);
    if (invalid) throw unauthorized(`Device "${deviceId}": ${invalid}`);
    const identity = await this.opts.registry.identity(deviceId);
    if (!identity) throw unauthorized(`Device "${deviceId}" is not registered`);

    let expiresAt: number | undefined;
    if (identity.authType === 'selfSigned') {
      if (!thumbprintMatches(identity, leaf)) {
        const { sha1, sha256 } = thumbprintsOf(leaf);
        throw unauthorized(
          `Thumbprint does not match configuration of device "${deviceId}": SHA1Hash=${sha1}, SHA2Hash=${sha256}`,
        );
      }
      expiresAt = Date.parse(leaf.validTo);
    } else if (identity.authType === 'certificateAuthority') {
      const cn = commonNameOf(leaf);
      if (cn !== deviceId) {
        throw unauthorized(`The certificate's common name "${cn ?? ''}" is not the device id "${deviceId}"`);
      }
      const anchors = await this.opts.caCertificates.verifiedCaCertificates();
      expiresAt = chainExpiry(leaf, intermediates, anchors, now);
      if (expiresAt === undefined) {
        throw unauthorized(`The certificate of device "${deviceId}" does not chain to a verified CA certificate`);
      }
    } else {
      throw unauthorized(`Device "${deviceId}" authenticates with ${identity.authType}, not an X.509 certificate`);
    }
    // Only after the certificate: an unproven caller learns nothing about the device's status.
    if (identity.status === 'disabled') throw new FerryError('DeviceDisabled', `Device "${deviceId}" is disabled`);
    return { kind: 'device', deviceId, expiresAt };
  }
}
