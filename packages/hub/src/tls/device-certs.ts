/**
 * Certificates for X.509 devices, for development and tests (what IoT Hub's tutorials make with
 * openssl scripts): a test root CA, a certificate it signs for a device id or a verification code
 * (proof of possession), and a self-signed device certificate. RSA 2048, SHA-256.
 */
import type Forge from 'node-forge';
import { forge, type KeyAndCert, newKeyPair, serial } from './pki.js';

const DAY_MS = 86_400_000;

export interface CertificateOptions {
  /** ms since the epoch; default now. Backdated an hour, as the hub's own certificates are. */
  now?: number;
  /** Default 365 (CA: 3650). */
  validityDays?: number;
  /** Exact validity, for tests (an expired or not-yet-valid certificate). */
  notBefore?: Date;
  notAfter?: Date;
}

function setValidity(cert: Forge.pki.Certificate, opts: CertificateOptions, defaultDays: number): void {
  const now = opts.now ?? Date.now();
  cert.validity.notBefore = opts.notBefore ?? new Date(now - 3600_000);
  cert.validity.notAfter = opts.notAfter ?? new Date(now + (opts.validityDays ?? defaultDays) * DAY_MS);
}

function subject(commonName: string): Forge.pki.CertificateField[] {
  return [{ name: 'commonName', value: commonName }];
}

/** A new key pair and a certificate for it with subject CN = `commonName`; `sign` sets the issuer, extensions and signature. */
function certificate(
  commonName: string,
  opts: CertificateOptions,
  defaultDays: number,
  sign: (cert: Forge.pki.Certificate, keys: ReturnType<typeof newKeyPair>) => void,
): KeyAndCert {
  const keys = newKeyPair();
  const cert = forge().pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  setValidity(cert, opts, defaultDays);
  cert.setSubject(subject(commonName));
  sign(cert, keys);
  return { certPem: forge().pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/** A root CA to upload to the hub (`ferry ca-cert add`) and sign device certificates with. */
export function createTestCa(commonName: string, opts: CertificateOptions = {}): KeyAndCert {
  return certificate(commonName, opts, 3650, (cert, keys) => {
    cert.setIssuer(subject(commonName));
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(keys.privateKey, forge().md.sha256.create());
  });
}

const CLIENT_EXTENSIONS = [
  { name: 'basicConstraints', cA: false },
  { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
  { name: 'extKeyUsage', clientAuth: true },
];

/**
 * A certificate signed by `ca` with subject CN = `commonName`: a device certificate (CN = the
 * device id) or a proof-of-possession certificate (CN = the verification code).
 */
export function issueCertificate(ca: KeyAndCert, commonName: string, opts: CertificateOptions = {}): KeyAndCert {
  const caCert = forge().pki.certificateFromPem(ca.certPem);
  const caKey = forge().pki.privateKeyFromPem(ca.keyPem);
  return certificate(commonName, opts, 365, (cert) => {
    cert.setIssuer(caCert.subject.attributes);
    cert.setExtensions([
      ...CLIENT_EXTENSIONS,
      { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    ]);
    cert.sign(caKey, forge().md.sha256.create());
  });
}

/** A self-signed device certificate; register its thumbprint (selfSigned authentication). */
export function selfSignedCertificate(commonName: string, opts: CertificateOptions = {}): KeyAndCert {
  return certificate(commonName, opts, 365, (cert, keys) => {
    cert.setIssuer(subject(commonName));
    cert.setExtensions(CLIENT_EXTENSIONS);
    cert.sign(keys.privateKey, forge().md.sha256.create());
  });
}
