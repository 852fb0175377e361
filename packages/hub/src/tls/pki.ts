/**
 * Certificates with node-forge (no openssl shell-out): a private CA and server certificates
 * for the hub's hosts. Keys come from node:crypto, which is much faster than forge's RSA.
 * Checking the certificates already on disk (every start) needs node:crypto only.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type Forge from 'node-forge';

/**
 * node-forge, loaded when a certificate is made: a hub restarted on its data dir makes none, and
 * forge is about 2 MiB of heap it would keep for nothing (docs/memory.md). CommonJS: a synchronous require.
 */
let forgeLibrary: typeof Forge | undefined;
export function forge(): typeof Forge {
  forgeLibrary ??= createRequire(import.meta.url)('node-forge') as typeof Forge;
  return forgeLibrary;
}

export interface KeyAndCert {
  certPem: string;
  keyPem: string;
}

const DAY_MS = 86_400_000;
const CA_VALIDITY_DAYS = 3650;
// 825 days is the longest validity Apple platforms accept for a TLS server certificate.
const SERVER_VALIDITY_DAYS = 825;

export function newKeyPair(): {
  privateKey: Forge.pki.rsa.PrivateKey;
  publicKey: Forge.pki.rsa.PublicKey;
  keyPem: string;
} {
  const { privateKey: keyPem } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const privateKey = forge().pki.privateKeyFromPem(keyPem) as Forge.pki.rsa.PrivateKey;
  const publicKey = forge().pki.setRsaPublicKey(privateKey.n, privateKey.e);
  return { privateKey, publicKey, keyPem };
}

export function serial(): string {
  // Positive (high bit clear), 16 random bytes, as RFC 5280 asks for unpredictable serials.
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

function validity(cert: Forge.pki.Certificate, now: number, days: number): void {
  // Backdated an hour so a client with a slightly slow clock still accepts a fresh certificate.
  cert.validity.notBefore = new Date(now - 3600_000);
  cert.validity.notAfter = new Date(now + days * DAY_MS);
}

export function createCa(now = Date.now()): KeyAndCert {
  const keys = newKeyPair();
  const cert = forge().pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  validity(cert, now, CA_VALIDITY_DAYS);
  const subject = [
    { name: 'commonName', value: `Ferry private CA ${serial().slice(0, 8)}` },
    { name: 'organizationName', value: 'Ferry' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge().md.sha256.create());
  return { certPem: forge().pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/** The subject alternative names for the hosts: DNS for names, IP for addresses. */
export function sanList(hosts: readonly string[]): string[] {
  const out = new Set<string>();
  for (const h of hosts) {
    const host = h.toLowerCase().replace(/\.$/, '');
    out.add(isIP(host) ? `IP:${host}` : `DNS:${host}`);
    // Clients told "localhost" often end up on the loopback address itself.
    if (host === 'localhost') {
      out.add('IP:127.0.0.1');
      out.add('IP:::1');
    }
  }
  return [...out];
}

export function issueServerCert(ca: KeyAndCert, hosts: readonly string[], now = Date.now()): KeyAndCert {
  const caCert = forge().pki.certificateFromPem(ca.certPem);
  const caKey = forge().pki.privateKeyFromPem(ca.keyPem);
  const keys = newKeyPair();
  const cert = forge().pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  validity(cert, now, SERVER_VALIDITY_DAYS);
  cert.setSubject([{ name: 'commonName', value: hosts[0] ?? 'localhost' }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = sanList(hosts).map((san) =>
    san.startsWith('IP:') ? { type: 7, ip: san.slice(3) } : { type: 2, value: san.slice(4) },
  );
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge().md.sha256.create());
  return { certPem: forge().pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/** The SANs of a certificate in sanList's notation. */
export function sansOf(certPem: string): string[] {
  const cert = forge().pki.certificateFromPem(certPem);
  const ext = cert.getExtension('subjectAltName') as {
    altNames?: Array<{ type: number; value?: string; ip?: string }>;
  };
  return (ext?.altNames ?? []).map((a) => (a.type === 7 ? `IP:${a.ip}` : `DNS:${a.value}`));
}

/**
 * True when the server certificate can be kept: issued by this CA, matching its key, valid for
 * at least 30 more days, and carrying exactly the SANs the hosts need.
 */
export function serverCertFits(
  server: KeyAndCert,
  ca: KeyAndCert,
  hosts: readonly string[],
  now = Date.now(),
): boolean {
  try {
    const cert = new X509Certificate(server.certPem);
    const caCert = new X509Certificate(ca.certPem);
    if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) return false;
    if (!cert.checkPrivateKey(createPrivateKey(server.keyPem))) return false;
    if (Date.parse(cert.validTo) < now + 30 * DAY_MS) return false;
    const have = new Set(x509Sans(cert).map(normalizeSan));
    const want = sanList(hosts).map(normalizeSan);
    return want.length === have.size && want.every((s) => have.has(s));
  } catch {
    return false;
  }
}

/** The DNS and IP SANs of a certificate, as node:crypto reads them, in sanList's notation. */
function x509Sans(cert: X509Certificate): string[] {
  const out: string[] = [];
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    if (entry.startsWith('DNS:')) out.push(`DNS:${entry.slice(4).toLowerCase()}`);
    else if (entry.startsWith('IP Address:')) out.push(`IP:${entry.slice('IP Address:'.length).toLowerCase()}`);
  }
  return out;
}

// forge and OpenSSL write IPv6 SANs back expanded ("0:0:0:0:0:0:0:1"); compare them in one spelling.
function normalizeSan(san: string): string {
  if (!san.startsWith('IP:')) return san;
  const ip = san.slice(3);
  if (isIP(ip) !== 6) return san;
  return `IP:${new URL(`http://[${ip}]/`).hostname}`;
}
