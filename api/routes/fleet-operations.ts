/**
 * Fleet operations (docs/http-contract.md): a bulk sync starts one, and its progress is read from
 * the operations table of the read model.
 */
import { createRoute } from '@hono/zod-openapi';
import { getOperation } from '../../db/data';
import { getOffboarding } from '../../db/tenants';
import { auditActor, recordAudit } from '../../db/audit';
import type { FleetFilter, FleetKind } from '../../workflows/fleet-messages';
import { ADMIN_SECURITY, jsonResponse, problemResponses, type App, type RouteContext } from '../context';
import { notFound } from '../problems';
import { OperationIdParamSchema, OperationSchema, OperationStartedSchema, SyncFilterSchema } from '../schemas';

export function registerFleetOperationRoutes(app: App, ctx: RouteContext): void {
  const { deps, guard } = ctx;
  const { db } = deps;
  const tags = ['Admin'];

  // ---- POST /v1/sync --------------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/sync',
      tags,
      summary: 'Report the current state of every device matching the filter',
      description: 'Starts a fleet operation; follow it with GET /v1/operations/{operationId}. No body (or {}) means every device.',
      security: ADMIN_SECURITY,
      middleware: [ctx.adminOnly, ctx.limitBody] as const,
      request: { body: { required: false, content: { 'application/json': { schema: SyncFilterSchema } } } },
      responses: {
        202: jsonResponse(OperationStartedSchema, 'The operation started'),
        ...problemResponses([400, 401, 403, 413, 415, 500, 503] as const),
      },
    }),
    async (c) => {
      const body = c.req.valid('json') ?? {};
      const tenantId = c.get('tenantId');
      const filter: FleetFilter = {};
      if (body.complianceStatus !== undefined) filter.complianceStatus = body.complianceStatus;
      if (body.clientStatusCode !== undefined) filter.clientStatusCode = body.clientStatusCode;
      const { operationId } = await guard.external(() =>
        deps.fleet.start('sync', Object.keys(filter).length > 0 ? filter : null, tenantId),
      );
      c.get('log').info({ operationId, filter }, 'bulk sync started');
      await guard.db(() =>
        recordAudit(db, {
          tenantId,
          actor: auditActor(c.env, c.get('principal').role),
          action: 'fleet.sync',
          target: operationId,
          detail: { filter },
        }),
      );
      return c.json({ operationId }, 202);
    },
  );

  // ---- GET /v1/operations/{operationId} -------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/operations/{operationId}',
      tags,
      summary: 'Progress of a fleet operation (bulk sync, enable, weekly report)',
      security: ADMIN_SECURITY,
      middleware: [ctx.adminOnly] as const,
      request: { params: OperationIdParamSchema },
      responses: {
        200: jsonResponse(OperationSchema, 'The operation'),
        ...problemResponses([400, 401, 403, 404, 500, 503] as const, { 404: 'No such operation' }),
      },
    }),
    async (c) => {
      const { operationId } = c.req.valid('param');
      const op = await guard.db(() => getOperation(db, c.get('tenantId'), operationId));
      if (!op) {
        // A tenant's offboarding outlives the tenant's own rows: the operator follows it here.
        const offboarding = c.get('principal').role === 'operator' ? await guard.db(() => getOffboarding(db, operationId)) : null;
        if (!offboarding) throw notFound(`No operation "${operationId}"`);
        return c.json(
          {
            operationId,
            kind: 'offboarding' as const,
            startedAt: offboarding.requestedAt,
            finishedAt: offboarding.completedAt,
            devicesTotal: offboarding.devicesRemoved,
            devicesSignalled: offboarding.devicesReported ?? 0,
            devicesSkipped: 0,
          },
          200,
        );
      }
      return c.json(
        {
          operationId: op.operationId,
          // operations.kind is written only from FleetKind (db/data.ts types it as a string).
          kind: op.kind as FleetKind,
          startedAt: op.startedAt,
          finishedAt: op.finishedAt,
          devicesTotal: op.devicesTotal,
          devicesSignalled: op.devicesSignalled,
          devicesSkipped: op.devicesSkipped,
        },
        200,
      );
    },
  );
}
