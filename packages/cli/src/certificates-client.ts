/**
 * The hub's CA certificates API (/certificates, IoT Hub's CertificateDescription JSON) and bulk
 * registry writes (POST /devices), for `ferry ca-cert` and `ferry device import`.
 */
import type { BulkResult, CertificateDescription } from '@ferry/hub';
import { CliError } from './io.js';
import { type RestHints, type RestTarget, rest } from './x509-rest.js';

const HINTS: RestHints = {
  IotHubUnauthorizedAccess:
    'CA certificates and bulk registry writes need the iothubowner (or registryReadWrite) policy, or the key is wrong.',
  NotFound: '`npx ferry ca-cert list` shows the certificates.',
  PreconditionFailed: 'The certificate exists or changed meanwhile; `npx ferry ca-cert list` shows it.',
};

const certPath = (name: string) => `/certificates/${encodeURIComponent(name)}`;

export class CertificatesClient {
  constructor(private readonly target: RestTarget) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await rest(this.target, method, path, body, { hints: HINTS })).json as T;
  }

  async list(): Promise<CertificateDescription[]> {
    return (await this.call<{ value: CertificateDescription[] }>('GET', '/certificates')).value;
  }

  get(name: string): Promise<CertificateDescription> {
    return this.call('GET', certPath(name));
  }

  add(name: string, certificatePem: string, isVerified: boolean): Promise<CertificateDescription> {
    return this.call('PUT', certPath(name), {
      properties: { certificate: certificatePem, ...(isVerified ? { isVerified: true } : {}) },
    });
  }

  async generateVerificationCode(name: string): Promise<string> {
    const cert = await this.call<CertificateDescription>('POST', `${certPath(name)}/generateVerificationCode`);
    return cert.properties.verificationCode ?? '';
  }

  verify(name: string, proofPem: string): Promise<CertificateDescription> {
    return this.call('POST', `${certPath(name)}/verify`, { certificate: proofPem });
  }

  async delete(name: string): Promise<void> {
    await this.call('DELETE', certPath(name));
  }
}

/** One bulk registry call (1-100 ExportImportDevice entries); 400 carries the per-device result. */
export async function bulkDevices(target: RestTarget, entries: readonly unknown[]): Promise<BulkResult> {
  const reply = await rest(target, 'POST', '/devices', entries, { hints: HINTS, accept: [400] });
  const result = reply.json as Partial<BulkResult> | undefined;
  if (typeof result?.isSuccessful !== 'boolean') {
    // A 400 for the call as a whole (not 1-100 entries, not an array): the hub's error.
    const message = String((reply.json as { Message?: unknown } | undefined)?.Message ?? '');
    throw new CliError(`the hub answered ${reply.status}: ${message.replace(/^ErrorCode:([^;]+);/, '$1: ')}`);
  }
  return result as BulkResult;
}
