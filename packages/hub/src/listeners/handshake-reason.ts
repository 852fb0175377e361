/**
 * A failed TLS handshake's error as a short reason, for the metrics' label
 * (ferry_tls_handshake_failures_total{reason}): a few stable words, never the error text.
 */
const DISTRUST = /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN)$/;
/** Not TLS at all (plain HTTP, MQTT without TLS) or a protocol version the hub does not accept. */
const NOT_TLS =
  /WRONG_VERSION_NUMBER|HTTP_REQUEST|HTTPS_PROXY_REQUEST|UNKNOWN_PROTOCOL|UNSUPPORTED_PROTOCOL|VERSION_TOO_LOW|TLSV1_ALERT_PROTOCOL_VERSION/;

export function handshakeReason(err: NodeJS.ErrnoException): string {
  const code = err.code ?? '';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || /timeout/i.test(err.message)) return 'timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (DISTRUST.test(code)) return 'certificate-not-trusted';
  if (NOT_TLS.test(code)) return 'protocol';
  if (/NO_SHARED_CIPHER|NO_CIPHERS/.test(code)) return 'no-shared-cipher';
  return 'other';
}
