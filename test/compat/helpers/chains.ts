/**
 * Certificate chains made in the test with node-forge (RSA 2048 keys from node:crypto): CAs with
 * a path length, name constraints or a key usage of the test's choosing, intermediates, device
 * leaves; and `openssl verify` run on the same certificates, as the hub's TLS listeners are set
 * up (the verified hub CAs as the only trust anchors, each trusted on its own, client purpose).
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyAndCert } from '@ferry/hub';
import forge from 'node-forge';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface CertSpec {
  commonName: string;
  /** Signed by this CA; self-signed when absent. */
  issuer?: KeyAndCert;
  /** A CA certificate (basicConstraints CA:TRUE, critical), with this pathLenConstraint when a number. */
  ca?: { pathLen?: number };
  /** keyUsage (critical); default keyCertSign + cRLSign for a CA, digitalSignature + keyEncipherment for a leaf. */
  keyUsage?: Partial<Record<'digitalSignature' | 'keyEncipherment' | 'keyCertSign' | 'cRLSign', boolean>>;
  /** nameConstraints (critical): permitted DNS subtrees. */
  permittedDns?: string[];
  /** subjectAltName DNS names of a leaf. */
  dnsNames?: string[];
  notBefore?: Date;
  notAfter?: Date;
}

/** DER of NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees } with dNSName bases. */
function nameConstraints(permitted: readonly string[]): forge.asn1.Asn1 {
  const { asn1 } = forge;
  const subtrees = permitted.map((dns) =>
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, dns),
    ]),
  );
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, subtrees),
  ]);
}

export function makeCertificate(spec: CertSpec): KeyAndCert {
  const { privateKey: keyPem } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const privateKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(privateKey.n, privateKey.e);
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = serial.toString('hex');
  const now = Date.now();
  cert.validity.notBefore = spec.notBefore ?? new Date(now - HOUR);
  cert.validity.notAfter = spec.notAfter ?? new Date(now + 30 * DAY);
  const subject = [{ name: 'commonName', value: spec.commonName }];
  cert.setSubject(subject);
  const issuerCert = spec.issuer ? forge.pki.certificateFromPem(spec.issuer.certPem) : undefined;
  cert.setIssuer(issuerCert ? issuerCert.subject.attributes : subject);
  const usage =
    spec.keyUsage ??
    (spec.ca ? { keyCertSign: true, cRLSign: true } : { digitalSignature: true, keyEncipherment: true });
  const extensions: object[] = [
    spec.ca
      ? {
          name: 'basicConstraints',
          cA: true,
          critical: true,
          ...(spec.ca.pathLen === undefined ? {} : { pathLenConstraint: spec.ca.pathLen }),
        }
      : { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', critical: true, ...usage },
    { name: 'subjectKeyIdentifier' },
  ];
  if (!spec.ca) extensions.push({ name: 'extKeyUsage', clientAuth: true });
  if (issuerCert) {
    extensions.push({
      name: 'authorityKeyIdentifier',
      keyIdentifier: issuerCert.generateSubjectKeyIdentifier().getBytes(),
    });
  }
  if (spec.permittedDns) {
    extensions.push({ id: '2.5.29.30', critical: true, value: nameConstraints(spec.permittedDns) });
  }
  if (spec.dnsNames) {
    extensions.push({ name: 'subjectAltName', altNames: spec.dnsNames.map((value) => ({ type: 2, value })) });
  }
  cert.setExtensions(extensions);
  const signer = spec.issuer ? forge.pki.privateKeyFromPem(spec.issuer.keyPem) : privateKey;
  cert.sign(signer, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** What the client sends: the leaf followed by its intermediates, and the leaf's key. */
export function withChain(leaf: KeyAndCert, ...intermediates: KeyAndCert[]): KeyAndCert {
  return { certPem: [leaf, ...intermediates].map((c) => c.certPem.trim()).join('\n'), keyPem: leaf.keyPem };
}

export interface OpensslVerdict {
  ok: boolean;
  /** OpenSSL's X509_V_ERR numbers when it refused (25 = path length exceeded ...), in the order it listed them. */
  errors: number[];
  output: string;
}

/**
 * `openssl verify -partial_chain -purpose sslclient -CAfile <hub CAs> -untrusted <intermediates>
 * <leaf>`: what the hub's listeners do with the same certificates.
 */
export function opensslVerify(
  hubCas: readonly KeyAndCert[],
  leaf: KeyAndCert,
  intermediates: readonly KeyAndCert[],
): OpensslVerdict {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-chain-'));
  const file = (name: string, certs: readonly KeyAndCert[]) => {
    const path = join(dir, name);
    writeFileSync(path, `${certs.map((c) => c.certPem.trim()).join('\n')}\n`);
    return path;
  };
  try {
    const args = ['verify', '-partial_chain', '-purpose', 'sslclient', '-CAfile', file('hub-cas.pem', hubCas)];
    if (intermediates.length > 0) args.push('-untrusted', file('untrusted.pem', intermediates));
    args.push(file('leaf.pem', [leaf]));
    const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 10_000 });
    if (r.error) throw r.error;
    const output = `${r.stdout}${r.stderr}`;
    const errors = [...output.matchAll(/error (\d+) at \d+ depth/g)].map((m) => Number(m[1]));
    return { ok: r.status === 0, errors, output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
