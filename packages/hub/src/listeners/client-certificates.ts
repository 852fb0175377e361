/**
 * The client certificates of a TLS connection and OpenSSL's verdict on them. The listeners
 * request a certificate without requiring one (requestCert, rejectUnauthorized false: SAS devices
 * share the ports) and trust only the hub's verified CA certificates (tls-contexts.ts), so
 * `socket.authorized` says whether OpenSSL verified the presented chain to one of them by RFC
 * 5280 (as `openssl verify -partial_chain -purpose sslclient` does). The X.509 authenticator
 * decides what that verdict means for the device the client claims to be.
 */
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { ClientCertificate } from '../auth/x509.js';

/** Server options that ask every TLS client for a certificate and accept the connection without one. */
export const REQUEST_CLIENT_CERTIFICATE = { requestCert: true, rejectUnauthorized: false } as const;

/** At most this many certificates are taken from what a client sent. */
const MAX_PRESENTED = 8;

const cache = new WeakMap<TLSSocket, ClientCertificate | undefined>();

/** What the client presented and OpenSSL's verdict; undefined when it presented nothing (or nothing parsable). */
export function presentedCertificates(socket: TLSSocket): ClientCertificate | undefined {
  if (cache.has(socket)) return cache.get(socket);
  let out: ClientCertificate | undefined;
  try {
    const seen = new Set<DetailedPeerCertificate>();
    const chain: X509Certificate[] = [];
    // Node lists the presented certificates issuer by issuer, then the trust anchor it found.
    let c: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
    while (c?.raw && !seen.has(c) && seen.size < MAX_PRESENTED) {
      seen.add(c);
      chain.push(new X509Certificate(c.raw));
      c = c.issuerCertificate;
    }
    if (chain.length > 0) {
      const verifyError = socket.authorized ? undefined : String(socket.authorizationError ?? 'UNVERIFIED');
      out = { chain, verifyError };
    }
  } catch {
    out = undefined;
  }
  cache.set(socket, out);
  return out;
}
