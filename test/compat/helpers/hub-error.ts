/** Asserts IoT Hub's HTTPS error envelope: status, `iothub-errorcode` header and the legacy `ErrorCode:<Name>;` body. */
import assert from 'node:assert/strict';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** `names` lists the acceptable error names (more than one only where the spec leaves a choice). */
export function assertHubError(
  res: RawResponse,
  status: number | number[],
  names: string | string[],
  context = '',
): void {
  const statuses = Array.isArray(status) ? status : [status];
  const accepted = Array.isArray(names) ? names : [names];
  const text = res.body.toString('utf8');
  const where = `${context}: got ${res.status} ${JSON.stringify(res.headers['iothub-errorcode'])} ${text.slice(0, 300)}`;
  assert.ok(statuses.includes(res.status), `status ${statuses.join('|')} expected ${where}`);
  const header = res.headers['iothub-errorcode'];
  assert.equal(typeof header, 'string', `iothub-errorcode header expected ${where}`);
  assert.ok(accepted.includes(header as string), `iothub-errorcode ${accepted.join('|')} expected ${where}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`JSON error body expected ${where}`);
  }
  const message = (body as { Message?: unknown }).Message;
  assert.equal(typeof message, 'string', `body.Message expected ${where}`);
  // The Node SDKs split Message on ';' and take the name after ':' (HttpBase.parseErrorBody).
  assert.ok(
    (message as string).startsWith(`ErrorCode:${header};`),
    `Message must start with ErrorCode:${header}; ${where}`,
  );
  assert.ok((message as string).split(';')[1], `Message needs a description after ';' ${where}`);
}
