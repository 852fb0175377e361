/**
 * Hub CA certificates (IoT Hub's certificates API, CertificateDescription JSON): list, get,
 * upload, generateVerificationCode, verify (proof of possession), delete. If-Match is optional
 * (absent = any etag) except that a PUT without it only creates.
 */
import { FerryError } from '@ferry/common';
import type { CaCertificates } from '../../registry/ca-certificates.js';
import type { GatewayContext } from '../context.js';
import { parseJson, readBody } from './body.js';
import { header } from './headers.js';
import { sendJson, sendNoContent } from './respond.js';
import type { Route, RouteCall } from './router.js';

const registryRead = () => ({ permission: 'RegistryRead' as const });
const registryWrite = () => ({ permission: 'RegistryWrite' as const });

function certificates(ctx: GatewayContext): CaCertificates {
  if (!ctx.caCertificates) throw new FerryError('NotImplemented', 'This hub does not manage CA certificates');
  return ctx.caCertificates;
}

function ifMatch({ req }: RouteCall): string | undefined {
  const v = header(req, 'if-match');
  return v === undefined || v.trim() === '' ? undefined : v;
}

async function jsonBody({ ctx, req }: RouteCall): Promise<unknown> {
  return parseJson(await readBody(req, ctx.config.http.maxBodyBytes));
}

export const certificateRoutes: Route[] = [
  {
    method: 'GET',
    path: '/certificates',
    operation: registryRead,
    async handle({ ctx, res }) {
      sendJson(res, 200, { value: await certificates(ctx).list() });
    },
  },
  {
    method: 'GET',
    path: '/certificates/{name}',
    operation: registryRead,
    async handle({ ctx, res, params }) {
      const cert = await certificates(ctx).get(params.name!);
      sendJson(res, 200, cert, { ETag: `"${cert.etag}"` });
    },
  },
  {
    method: 'PUT',
    path: '/certificates/{name}',
    operation: registryWrite,
    async handle(call) {
      const cert = await certificates(call.ctx).put(call.params.name!, await jsonBody(call), ifMatch(call));
      call.log.info({ certificate: cert.name, thumbprint: cert.properties.thumbprint }, 'CA certificate uploaded');
      sendJson(call.res, 200, cert, { ETag: `"${cert.etag}"` });
    },
  },
  {
    method: 'POST',
    path: '/certificates/{name}/generateVerificationCode',
    operation: registryWrite,
    async handle(call) {
      const cert = await certificates(call.ctx).generateVerificationCode(call.params.name!, ifMatch(call));
      sendJson(call.res, 200, cert, { ETag: `"${cert.etag}"` });
    },
  },
  {
    method: 'POST',
    path: '/certificates/{name}/verify',
    operation: registryWrite,
    async handle(call) {
      const cert = await certificates(call.ctx).verify(call.params.name!, await jsonBody(call), ifMatch(call));
      call.log.info({ certificate: cert.name }, 'CA certificate verified (proof of possession)');
      sendJson(call.res, 200, cert, { ETag: `"${cert.etag}"` });
    },
  },
  {
    method: 'DELETE',
    path: '/certificates/{name}',
    operation: registryWrite,
    async handle(call) {
      await certificates(call.ctx).delete(call.params.name!, ifMatch(call));
      sendNoContent(call.res);
    },
  },
];
