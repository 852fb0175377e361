/**
 * Service-side feedback over HTTPS (swagger 2020-09-30; spec c2d-semantics.md 3.5, 7.4). The
 * response headers reuse the device-bound scheme, since Azure's are undocumented. `?reject` on
 * the DELETE dead-letters the batch (a Ferry addition, as AMQP Rejected does).
 */
import { definedHeaders } from './headers.js';
import { hasFlag, lockToken } from './params.js';
import { sendBody, sendNoContent } from './respond.js';
import type { Route } from './router.js';

export const FEEDBACK_CONTENT_TYPE = 'application/vnd.microsoft.iothub.feedback.json';

const serviceConnect = () => ({ permission: 'ServiceConnect' as const });

export const feedbackRoutes: Route[] = [
  {
    method: 'GET',
    path: '/messages/serviceBound/feedback',
    operation: serviceConnect,
    async handle({ ctx, res }) {
      const batch = await ctx.engine.receiveFeedback();
      if (!batch) {
        sendNoContent(res);
        return;
      }
      const headers = definedHeaders({
        ETag: `"${batch.lockToken}"`,
        'Content-Type': FEEDBACK_CONTENT_TYPE,
        'iothub-enqueuedtime': new Date(batch.enqueuedTimeUtc).toISOString(),
        'iothub-userid': ctx.hubName,
        'iothub-deliverycount': String(batch.deliveryCount),
      });
      sendBody(res, 200, Buffer.from(JSON.stringify(batch.records)), headers);
    },
  },
  {
    method: 'DELETE',
    path: '/messages/serviceBound/feedback/{lockToken}',
    operation: serviceConnect,
    async handle({ ctx, res, params, query }) {
      const token = lockToken(params.lockToken!);
      if (hasFlag(query, 'reject')) await ctx.engine.rejectFeedback(token);
      else await ctx.engine.completeFeedback(token);
      sendNoContent(res);
    },
  },
  {
    method: 'POST',
    path: '/messages/serviceBound/feedback/{lockToken}/abandon',
    operation: serviceConnect,
    async handle({ ctx, res, params }) {
      await ctx.engine.abandonFeedback(lockToken(params.lockToken!));
      sendNoContent(res);
    },
  },
];
