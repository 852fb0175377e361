/**
 * The client certificates of a TLS connection. The listeners request one without requiring it
 * (requestCert, rejectUnauthorized false: SAS devices share the ports), so nothing here is
 * verified; the X.509 authenticator judges the chain against the registry and the hub's CAs.
 */
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';

/** Server options that ask every TLS client for a certificate and accept the connection without one. */
export const REQUEST_CLIENT_CERTIFICATE = { requestCert: true, rejectUnauthorized: false } as const;

/** At most this many certificates are taken from what a client sent. */
const MAX_PRESENTED = 8;

const cache = new WeakMap<TLSSocket, readonly X509Certificate[] | undefined>();

/** What the client presented, leaf first; undefined when it presented nothing (or nothing parsable). */
export function presentedCertificates(socket: TLSSocket): readonly X509Certificate[] | undefined {
  if (cache.has(socket)) return cache.get(socket);
  let out: X509Certificate[] | undefined;
  try {
    const seen = new Set<DetailedPeerCertificate>();
    const chain: X509Certificate[] = [];
    let c: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
    while (c?.raw && !seen.has(c) && seen.size < MAX_PRESENTED) {
      seen.add(c);
      chain.push(new X509Certificate(c.raw));
      c = c.issuerCertificate;
    }
    out = chain.length > 0 ? chain : undefined;
  } catch {
    out = undefined;
  }
  cache.set(socket, out);
  return out;
}
