/**
 * The hub's CA certificates API (/certificates, IoT Hub's CertificateDescription JSON) and bulk
 * registry writes (POST /devices), for `ferry ca-cert` and `ferry device import`.
 */
import type { BulkResult, CertificateDescription } from '@ferry/hub';
import { callHub, type Hints, type HubTarget, ok, serviceToken } from './hub-http.js';

const HINTS: Hints = {
  IotHubUnauthorizedAccess:
    'CA certificates and bulk registry writes need the iothubowner (or registryReadWrite) policy.',
  NotFound: '`npx ferry ca-cert list` shows the certificates.',
  PreconditionFailed: 'The certificate exists or changed meanwhile; `npx ferry ca-cert list` shows it.',
};

async function call(
  target: HubTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const reply = await callHub(target, {
    method,
    path,
    authorization: serviceToken(target.cs),
    headers: {
      accept: 'application/json',
      ...(payload ? { 'content-type': 'application/json; charset=utf-8' } : {}),
    },
    ...(payload ? { body: payload } : {}),
  });
  // A bulk call with failed entries answers 400 with the result: that is an answer, not an error.
  const isBulkResult =
    method === 'POST' &&
    path === '/devices' &&
    reply.status === 400 &&
    /isSuccessful/.test(reply.body.toString('utf8'));
  if (!isBulkResult) ok(reply, HINTS);
  return { status: reply.status, json: reply.body.length > 0 ? JSON.parse(reply.body.toString('utf8')) : undefined };
}

const certPath = (name: string) => `/certificates/${encodeURIComponent(name)}`;

export class CertificatesClient {
  constructor(private readonly target: HubTarget) {}

  async list(): Promise<CertificateDescription[]> {
    return ((await call(this.target, 'GET', '/certificates')).json as { value: CertificateDescription[] }).value;
  }

  async get(name: string): Promise<CertificateDescription> {
    return (await call(this.target, 'GET', certPath(name))).json as CertificateDescription;
  }

  async add(name: string, certificatePem: string, isVerified: boolean): Promise<CertificateDescription> {
    const body = { properties: { certificate: certificatePem, ...(isVerified ? { isVerified: true } : {}) } };
    return (await call(this.target, 'PUT', certPath(name), body)).json as CertificateDescription;
  }

  async generateVerificationCode(name: string): Promise<string> {
    const cert = (await call(this.target, 'POST', `${certPath(name)}/generateVerificationCode`))
      .json as CertificateDescription;
    return cert.properties.verificationCode ?? '';
  }

  async verify(name: string, proofPem: string): Promise<CertificateDescription> {
    return (await call(this.target, 'POST', `${certPath(name)}/verify`, { certificate: proofPem }))
      .json as CertificateDescription;
  }

  async delete(name: string): Promise<void> {
    await call(this.target, 'DELETE', certPath(name));
  }
}

/** One bulk registry call (1-100 ExportImportDevice entries). */
export async function bulkDevices(target: HubTarget, entries: readonly unknown[]): Promise<BulkResult> {
  return (await call(target, 'POST', '/devices', entries)).json as BulkResult;
}
