/**
 * The hub's CA certificates, managed as IoT Hub manages them: upload (unverified), get a
 * verification code, upload a certificate signed by the CA whose common name is that code (proof
 * of possession of the CA key), and the CA is verified; certificateAuthority devices must chain to
 * a verified one. JSON in IoT Hub's CertificateDescription shape.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { FerryError } from '@ferry/common';
import { commonNameOf, issuedBy, thumbprintsOf, type VerifiedCaSource, validityProblem } from '../auth/x509.js';
import type { Clock } from '../clock.js';
import type { CaCertificateRecord, CaCertificateStore } from '../store/types.js';
import { newEtag } from './device-json.js';
import { normalizeEtag } from './validation.js';

/** IoT Hub's limit per hub. */
export const MAX_CA_CERTIFICATES = 25;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

export interface CertificateProperties {
  subject: string;
  /** RFC 1123, as IoT Hub writes dates here. */
  expiry: string;
  /** SHA-1, upper-case hex. */
  thumbprint: string;
  isVerified: boolean;
  created: string;
  updated: string;
  certificate: string;
  verificationCode?: string;
}

/** IoT Hub's CertificateDescription (CertificateWithNonceDescription when verificationCode is set). */
export interface CertificateDescription {
  id: string;
  name: string;
  etag: string;
  type: 'Microsoft.Devices/IotHubs/Certificates';
  properties: CertificateProperties;
}

function invalid(message: string): FerryError {
  return new FerryError('ArgumentInvalid', message);
}

function notFound(name: string): FerryError {
  return new FerryError('NotFound', `No CA certificate is named "${name}"`);
}

function preconditionFailed(name: string): FerryError {
  return new FerryError('PreconditionFailed', `The If-Match etag does not match CA certificate "${name}"`);
}

export function validateCertificateName(name: string): string {
  if (!NAME.test(name)) throw invalid('a certificate name is 1 to 64 of A-Z a-z 0-9 . _ -');
  return name;
}

/** A certificate given as PEM, or as base64 DER (what a .cer file holds), parsed. */
export function parseCertificate(field: string, value: unknown): { pem: string; cert: X509Certificate } {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${field} must be a PEM or base64 certificate`);
  const text = value.trim();
  let cert: X509Certificate;
  try {
    cert = text.includes('-----BEGIN') ? new X509Certificate(text) : new X509Certificate(Buffer.from(text, 'base64'));
  } catch (cause) {
    throw new FerryError('ArgumentInvalid', `${field} is not an X.509 certificate`, { cause });
  }
  return { pem: cert.toString(), cert };
}

function rfc1123(ms: number): string {
  return new Date(ms).toUTCString();
}

export function toCertificateDescription(r: CaCertificateRecord, withCode = false): CertificateDescription {
  const cert = new X509Certificate(r.certificatePem);
  const properties: CertificateProperties = {
    subject: cert.subject.replaceAll('\n', ', '),
    expiry: rfc1123(Date.parse(cert.validTo)),
    thumbprint: thumbprintsOf(cert).sha1,
    isVerified: r.isVerified,
    created: rfc1123(r.createdAt),
    updated: rfc1123(r.updatedAt),
    certificate: r.certificatePem,
  };
  if (withCode && r.verificationCode) properties.verificationCode = r.verificationCode;
  return {
    id: `/certificates/${r.name}`,
    name: r.name,
    etag: r.etag,
    type: 'Microsoft.Devices/IotHubs/Certificates',
    properties,
  };
}

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('the body must be a JSON object');
  return body as Record<string, unknown>;
}

export class CaCertificates implements VerifiedCaSource {
  constructor(
    private readonly store: CaCertificateStore,
    private readonly clock: Clock,
    /**
     * Called after every committed write, awaited before the write is answered: the hub reads
     * the verified set again (TLS trust anchors, connections through a removed CA cut) and tells
     * the other nodes. It must not throw.
     */
    private readonly written: () => Promise<void> = async () => {},
  ) {}

  async list(): Promise<CertificateDescription[]> {
    return (await this.store.listCaCertificates()).map((r) => toCertificateDescription(r));
  }

  async get(name: string): Promise<CertificateDescription> {
    return toCertificateDescription(await this.record(name));
  }

  /**
   * Upload: body `{properties: {certificate, isVerified?}}`. Without If-Match the name must be
   * new; with it (an etag or `*`) the stored certificate is replaced and verified again.
   * `isVerified: true` skips proof of possession, as IoT Hub allows.
   */
  async put(name: string, body: unknown, ifMatch: string | undefined): Promise<CertificateDescription> {
    validateCertificateName(name);
    const props = objectBody(objectBody(body).properties ?? {});
    const { pem, cert } = parseCertificate('properties.certificate', props.certificate);
    if (!cert.ca) throw invalid('the certificate is not a CA certificate (basicConstraints CA:TRUE)');
    const now = this.clock.now();
    const expired = validityProblem(cert, now, 'the certificate');
    if (expired) throw invalid(expired);
    if (props.isVerified !== undefined && typeof props.isVerified !== 'boolean') {
      throw invalid('properties.isVerified must be a boolean');
    }
    const record: CaCertificateRecord = {
      name,
      etag: newEtag(),
      certificatePem: pem,
      isVerified: props.isVerified === true,
      verificationCode: null,
      createdAt: now,
      updatedAt: now,
    };
    if (ifMatch === undefined) {
      if ((await this.store.listCaCertificates()).length >= MAX_CA_CERTIFICATES) {
        throw invalid(`a hub holds at most ${MAX_CA_CERTIFICATES} CA certificates`);
      }
      if (!(await this.store.insertCaCertificate(record))) {
        throw new FerryError('PreconditionFailed', `CA certificate "${name}" exists; replace it with If-Match`);
      }
      await this.written();
      return toCertificateDescription(record);
    }
    const existing = await this.matching(name, ifMatch);
    const replaced = { ...record, createdAt: existing.createdAt };
    if (!(await this.store.replaceCaCertificate(replaced, existing.etag))) throw preconditionFailed(name);
    await this.written();
    return toCertificateDescription(replaced);
  }

  /** A new proof-of-possession code (the previous one no longer verifies). */
  async generateVerificationCode(name: string, ifMatch: string | undefined): Promise<CertificateDescription> {
    const existing = await this.matching(name, ifMatch);
    const next: CaCertificateRecord = {
      ...existing,
      etag: newEtag(),
      verificationCode: randomBytes(24).toString('hex').toUpperCase(),
      updatedAt: this.clock.now(),
    };
    if (!(await this.store.replaceCaCertificate(next, existing.etag))) throw preconditionFailed(name);
    return toCertificateDescription(next, true);
  }

  /** Proof of possession: body `{certificate}`, signed by the CA, common name = the verification code. */
  async verify(name: string, body: unknown, ifMatch: string | undefined): Promise<CertificateDescription> {
    const existing = await this.matching(name, ifMatch);
    const { cert } = parseCertificate('certificate', objectBody(body).certificate);
    if (!existing.verificationCode) throw invalid(`generate a verification code for "${name}" first`);
    if (commonNameOf(cert) !== existing.verificationCode) {
      throw invalid("the verification certificate's common name is not the verification code");
    }
    const ca = new X509Certificate(existing.certificatePem);
    if (!issuedBy(cert, ca)) throw invalid(`the verification certificate is not signed by CA certificate "${name}"`);
    const expired = validityProblem(cert, this.clock.now(), 'the verification certificate');
    if (expired) throw invalid(expired);
    const next: CaCertificateRecord = {
      ...existing,
      etag: newEtag(),
      isVerified: true,
      verificationCode: null,
      updatedAt: this.clock.now(),
    };
    if (!(await this.store.replaceCaCertificate(next, existing.etag))) throw preconditionFailed(name);
    await this.written();
    return toCertificateDescription(next);
  }

  async delete(name: string, ifMatch: string | undefined): Promise<void> {
    const existing = await this.matching(name, ifMatch);
    if (!(await this.store.deleteCaCertificate(name, existing.etag))) throw preconditionFailed(name);
    await this.written();
  }

  async verifiedCaCertificates(): Promise<readonly X509Certificate[]> {
    const records = await this.store.listCaCertificates();
    return records.filter((r) => r.isVerified).map((r) => new X509Certificate(r.certificatePem));
  }

  private async record(name: string): Promise<CaCertificateRecord> {
    const r = await this.store.getCaCertificate(validateCertificateName(name));
    if (!r) throw notFound(name);
    return r;
  }

  /** The stored record when If-Match (absent = `*`) matches it. */
  private async matching(name: string, ifMatch: string | undefined): Promise<CaCertificateRecord> {
    const r = await this.record(name);
    const wanted = ifMatch === undefined ? '*' : normalizeEtag(ifMatch);
    if (wanted !== '*' && wanted !== r.etag) throw preconditionFailed(name);
    return r;
  }
}
