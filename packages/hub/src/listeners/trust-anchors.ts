/**
 * The TLS listeners' trust anchors: the hub's verified CA certificates, and nothing else (an
 * empty list keeps Node's bundled public roots out). Each anchor is trusted on its own, as IoT
 * Hub trusts a verified intermediate CA: OpenSSL's X509_V_FLAG_PARTIAL_CHAIN, the option
 * `allowPartialTrustChain` of tls.createSecureContext. Node 20's Server.setSecureContext drops
 * that option, so it is set on the context the server just built (the one internal it touches;
 * if a Node version lacks it, a warning says intermediate CAs will not anchor chains).
 */
import type { Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';

export interface ServerIdentity {
  cert: string;
  key: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
}

interface WithSharedContext {
  _sharedCreds?: { context?: { setAllowPartialTrustChain?: () => void } };
}

let warned = false;

/** Gives `server` a new context (for new connections; open ones keep theirs) trusting `anchors` (PEM). */
export function setTrustAnchors(
  server: TlsServer,
  identity: ServerIdentity,
  anchors: readonly string[],
  logger: Logger,
): void {
  server.setSecureContext({ ...identity, ca: [...anchors] });
  const context = (server as TlsServer & WithSharedContext)._sharedCreds?.context;
  if (typeof context?.setAllowPartialTrustChain === 'function') {
    context.setAllowPartialTrustChain();
  } else if (!warned) {
    warned = true;
    logger.warn('this Node.js cannot trust an intermediate CA on its own: devices must chain to a verified root CA');
  }
}
