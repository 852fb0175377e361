/**
 * X.509 device authentication (DESIGN decision 15; c2d-semantics.md 5.5; docs/x509.md). The TLS
 * listeners ask for a client certificate without requiring it, with the hub's verified CA
 * certificates as their trust anchors, so OpenSSL verifies every presented chain by RFC 5280
 * (signatures, validity, basic constraints and path length, key usage, name constraints, the
 * TLS client purpose) during the handshake; a gateway hands this authenticator what the client
 * presented, OpenSSL's verdict and the device id the client claims:
 * - `selfSigned` devices: the leaf's SHA-1 or SHA-256 thumbprint is the primary or secondary one
 *   (no chain: the registry pins the certificate itself);
 * - `certificateAuthority` devices: OpenSSL verified the chain to a CA certificate that is still
 *   a verified hub CA, and the leaf's subject CN is the device id.
 * Failures are IotHubUnauthorizedAccess (CONNACK 5, amqp:unauthorized-access, HTTP 401); a
 * disabled device is DeviceDisabled, as with SAS.
 */
import type { X509Certificate } from 'node:crypto';
import { FerryError } from '@ferry/common';
import type { Clock } from '../clock.js';
import type { DeviceIdentity, Registry } from '../registry/types.js';
import type { Principal } from './types.js';

/** Where the verified hub CA certificates come from (read on every authentication: they may change). */
export interface VerifiedCaSource {
  verifiedCaCertificates(): Promise<readonly X509Certificate[]>;
}

/** A TLS client's certificates and what OpenSSL made of them (listeners/client-certificates.ts). */
export interface ClientCertificate {
  /**
   * Leaf first: the certificates the client presented, each issued by the next, then the issuers
   * OpenSSL found among the listener's trust anchors (the verified hub CAs).
   */
  readonly chain: readonly X509Certificate[];
  /**
   * undefined when OpenSSL verified the chain to one of the listener's trust anchors; otherwise
   * its reason (`PATH_LENGTH_EXCEEDED`, `CERT_HAS_EXPIRED`, `DEPTH_ZERO_SELF_SIGNED_CERT` ...).
   */
  readonly verifyError: string | undefined;
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
 * The verified hub CAs a chain goes through: those equal to one of its certificates or that
 * issued one (OpenSSL found the path; this only says which hub CAs it rests on, so that deleting
 * one of them can cut the connection).
 */
export function hubCasOf(chain: readonly X509Certificate[], hubCas: readonly X509Certificate[]): X509Certificate[] {
  return hubCas.filter((ca) => chain.some((c) => c.fingerprint256 === ca.fingerprint256 || issuedBy(c, ca)));
}

/** The end of the chain's validity (ms), or why it is not valid at `now`. */
function chainValidity(chain: readonly X509Certificate[], now: number): number | string {
  let expiry = Number.POSITIVE_INFINITY;
  for (const [i, cert] of chain.entries()) {
    const problem = validityProblem(
      cert,
      now,
      i === 0 ? 'the client certificate' : `the CA certificate ${cert.subject}`,
    );
    if (problem) return problem;
    expiry = Math.min(expiry, Date.parse(cert.validTo));
  }
  return expiry;
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

  /** The device principal for `deviceId` proven by the client certificate, or a FerryError. */
  async authenticate(deviceId: string, presented: ClientCertificate): Promise<Principal> {
    const leaf = presented.chain[0];
    if (!leaf) throw unauthorized('No client certificate was presented');
    const now = this.opts.clock.now();
    const identity = await this.opts.registry.identity(deviceId);
    if (!identity) throw unauthorized(`Device "${deviceId}" is not registered`);

    let expiresAt: number;
    let viaCas: string[] | undefined;
    if (identity.authType === 'selfSigned') {
      const invalid = validityProblem(leaf, now);
      if (invalid) throw unauthorized(`Device "${deviceId}": ${invalid}`);
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
      // Read before the verdict is judged: a stale TLS context (another node changed the CAs, its
      // signal missed) is noticed here and rebuilt for the next attempt.
      const hubCas = await this.opts.caCertificates.verifiedCaCertificates();
      if (presented.verifyError !== undefined) {
        throw unauthorized(
          `The certificate chain of device "${deviceId}" does not verify against the hub's verified CA certificates: ${presented.verifyError}`,
        );
      }
      // OpenSSL verified it against the CAs of the handshake's moment; one deleted since does not count.
      const via = hubCasOf(presented.chain, hubCas);
      if (via.length === 0) {
        throw unauthorized(`The certificate of device "${deviceId}" does not chain to a verified CA certificate`);
      }
      // A resumed TLS session is not verified again: the chain must still be valid now.
      const validity = chainValidity(presented.chain, now);
      if (typeof validity === 'string') throw unauthorized(`Device "${deviceId}": ${validity}`);
      expiresAt = validity;
      viaCas = via.map((ca) => ca.fingerprint256);
    } else {
      throw unauthorized(`Device "${deviceId}" authenticates with ${identity.authType}, not an X.509 certificate`);
    }
    // Only after the certificate: an unproven caller learns nothing about the device's status.
    if (identity.status === 'disabled') throw new FerryError('DeviceDisabled', `Device "${deviceId}" is disabled`);
    return viaCas ? { kind: 'device', deviceId, expiresAt, viaCas } : { kind: 'device', deviceId, expiresAt };
  }
}
