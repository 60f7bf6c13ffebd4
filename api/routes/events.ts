/**
 * MDM events (docs/http-contract.md): an event is validated and handed to its device workflow
 * (workers/event-delivery.ts); `202` only once Temporal has it, `409` when Temporal says the
 * device's lifecycle is over.
 */
import { createRoute, type z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { DeviceEvent } from '../../domain/events';
import { occurredAtErrors, validateBatchEvents, validateDeviceId } from '../../domain/validation';
import { deliverEvent } from '../../workers/event-delivery';
import { DependencyUnavailable } from '../dependencies';
import { MDM_SECURITY, jsonResponse, problemResponses, type App, type AppEnv, type RouteContext } from '../context';
import { ProblemError, deviceRetired, problem, type Problem } from '../problems';
import {
  BatchEventsEnvelopeSchema,
  BatchEventsSchema,
  BatchResultSchema,
  DeviceEventSchema,
  DeviceIdParamSchema,
  EventAcceptedSchema,
} from '../schemas';

/** How many devices of one batch are signalled at the same time. */
export const BATCH_CONCURRENCY = 32;

type BatchResult = z.infer<typeof BatchResultSchema>['results'][number];

/** Runs `fn` over `items` with at most `limit` in flight. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(lanes);
}

export function registerEventRoutes(app: App, ctx: RouteContext): void {
  const { deps, guard, metrics } = ctx;
  const { temporal, config } = deps;

  /** Hands one valid event to its tenant's device workflow, or throws (409 retired, 503 unavailable). */
  async function acceptEvent(tenantId: string, deviceId: string, event: DeviceEvent): Promise<void> {
    const outcome = await guard.temporal(() =>
      deliverEvent(temporal, {
        tenantId,
        deviceId,
        taskQueue: config.temporal.taskQueue,
        event,
        ...(deps.deviceWorkflowOptions ? { options: deps.deviceWorkflowOptions } : {}),
      }),
    );
    if (outcome === 'retired') throw deviceRetired(deviceId);
  }

  /** Counts the single-event route's outcome once the response is known (authenticated requests only). */
  const countEvent: MiddlewareHandler<AppEnv> = async (c, next) => {
    await next();
    const result = c.res.status === 202 ? 'accepted' : 'rejected';
    metrics.mdmEvents.inc({ type: metrics.eventType(c.get('eventType')), result });
    metrics.tenantEvents.inc({ tenant: c.get('tenantId'), result });
  };

  // ---- POST /v1/devices/{deviceId}/events ---------------------------------------------------------
  const postEvent = createRoute({
    method: 'post',
    path: '/v1/devices/{deviceId}/events',
    tags: ['MDM events'],
    summary: 'Send one event of a device',
    description:
      'Validates the event and hands it to the device workflow (signalWithStart). 202 once Temporal has it. ' +
      '409 (type ending in /device-retired) for any event but registration on a retired device.',
    security: MDM_SECURITY,
    middleware: [ctx.mdmOnly, countEvent, ctx.limitBody] as const,
    request: {
      params: DeviceIdParamSchema,
      body: { required: true, content: { 'application/json': { schema: DeviceEventSchema } } },
    },
    responses: {
      202: jsonResponse(EventAcceptedSchema, 'Accepted: the event is durably handed to Temporal'),
      ...problemResponses([400, 401, 403, 409, 413, 415, 500, 503] as const, {
        409: 'The device is retired (type ends in /device-retired); only a registration is accepted',
      }),
    },
  });

  app.openapi(
    postEvent,
    async (c) => {
      const { deviceId } = c.req.valid('param');
      const event = c.req.valid('json') as DeviceEvent;
      c.set('eventType', event.type);
      const late = occurredAtErrors(event.occurredAt, ctx.eventClock());
      if (late.length > 0) throw new ProblemError(problem('validation', 'Invalid request body', late));
      await acceptEvent(c.get('tenantId'), deviceId, event);
      return c.json({ deviceId, accepted: true as const }, 202);
    },
    (result, c) => {
      if (result.target === 'json') {
        const data = (result as { data?: unknown }).data;
        const type = data !== null && typeof data === 'object' ? (data as { type?: unknown }).type : undefined;
        c.set('eventType', metrics.eventType(type));
      }
      return ctx.validationHook(result, c);
    },
  );

  // ---- POST /v1/events (batch) ----------------------------------------------------------------------
  const batchDoc = {
    method: 'post' as const,
    path: '/v1/events',
    tags: ['MDM events'],
    summary: 'Send up to 1,000 events',
    description:
      'Each item is an event plus its deviceId, validated on its own: valid items are accepted even when others ' +
      'are rejected. 202 with one result per item, in order. 400 only when the envelope itself is invalid ' +
      '(not an object, no events, 0 or more than 1,000 events); 503 when Temporal or Postgres is down and no item was accepted.',
    security: MDM_SECURITY,
    responses: {
      202: jsonResponse(BatchResultSchema, 'One result per item'),
      ...problemResponses([400, 401, 403, 413, 415, 500, 503] as const),
    },
  };
  // The document shows the items fully; validation checks the envelope, then each item on its own.
  app.openAPIRegistry.registerPath({
    ...batchDoc,
    request: { body: { required: true, content: { 'application/json': { schema: BatchEventsSchema } } } },
  });
  const postBatch = createRoute({
    ...batchDoc,
    hide: true,
    middleware: [ctx.mdmOnly, ctx.limitBody] as const,
    request: { body: { required: true, content: { 'application/json': { schema: BatchEventsEnvelopeSchema } } } },
  });

  app.openapi(postBatch, async (c) => {
    const body = c.req.valid('json');
    const tenantId = c.get('tenantId');
    const validation = validateBatchEvents(body, ctx.eventClock());
    if (!validation.ok) throw new ProblemError(problem('validation', 'Invalid request body', validation.errors));

    const results: BatchResult[] = new Array(validation.items.length);
    const byDevice = new Map<string, Array<{ index: number; deviceId: string; event: DeviceEvent }>>();
    const rejected = (index: number, error: Problem, deviceId?: string): BatchResult =>
      deviceId === undefined ? { index, status: 'rejected', error } : { index, deviceId, status: 'rejected', error };

    for (const item of validation.items) {
      if (item.ok) {
        const group = byDevice.get(item.deviceId) ?? [];
        group.push({ index: item.index, deviceId: item.deviceId, event: item.event });
        byDevice.set(item.deviceId, group);
      } else {
        const raw = body.events[item.index];
        const rawObject = raw !== null && typeof raw === 'object' ? (raw as { deviceId?: unknown; type?: unknown }) : {};
        const id = validateDeviceId(rawObject.deviceId);
        results[item.index] = rejected(
          item.index,
          problem('validation', `Invalid event at index ${item.index}`, item.errors),
          id.ok ? id.deviceId : undefined,
        );
        metrics.mdmEvents.inc({ type: metrics.eventType(rawObject.type), result: 'rejected' });
        metrics.tenantEvents.inc({ tenant: tenantId, result: 'rejected' });
      }
    }

    // Events of one device are handed over in their order; devices run BATCH_CONCURRENCY at a time.
    // After the first "dependency down", the remaining items are rejected at once instead of each
    // waiting for its own timeout.
    let unavailable: DependencyUnavailable | undefined;
    let accepted = 0;
    await eachLimited([...byDevice.values()], BATCH_CONCURRENCY, async (group) => {
      for (const item of group) {
        if (unavailable) {
          results[item.index] = rejected(item.index, unavailable.toProblemError().problem, item.deviceId);
        } else {
          try {
            await acceptEvent(tenantId, item.deviceId, item.event);
            results[item.index] = { index: item.index, deviceId: item.deviceId, status: 'accepted' };
            accepted++;
          } catch (err) {
            if (err instanceof ProblemError) {
              results[item.index] = rejected(item.index, err.problem, item.deviceId);
            } else if (err instanceof DependencyUnavailable) {
              unavailable ??= err;
              results[item.index] = rejected(item.index, err.toProblemError().problem, item.deviceId);
            } else {
              c.get('log').error({ err, deviceId: item.deviceId, index: item.index }, 'batch item failed');
              results[item.index] = rejected(
                item.index,
                problem('internal', `Unexpected error; logged with request id ${c.get('requestId')}`),
                item.deviceId,
              );
            }
          }
        }
        const result = results[item.index]!.status === 'accepted' ? 'accepted' : 'rejected';
        metrics.mdmEvents.inc({ type: item.event.type, result });
        metrics.tenantEvents.inc({ tenant: tenantId, result });
      }
    });
    if (unavailable && accepted === 0) throw unavailable;
    return c.json({ results }, 202);
  });
}
