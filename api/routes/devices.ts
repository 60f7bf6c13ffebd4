/**
 * The device resource (docs/http-contract.md): one device's details, the device list, a device's
 * report timeline, and a sync of one device. Reads come from the Postgres read model, never from a
 * workflow query (which fails without a worker); a sync runs the device workflow's sync Update.
 */
import { createRoute, type z } from '@hono/zod-openapi';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import {
  getDevice,
  getSettings,
  listDevices,
  listReportAttempts,
  reportingEnabledReader,
  type DeviceFilter,
  type DeviceRow,
} from '../../db/data';
import { auditActor, recordAudit } from '../../db/audit';
import { deviceIdSchema } from '../../domain/event-schemas';
import { deviceWorkflowId, syncUpdate } from '../../workflows/messages';
import { ADMIN_SECURITY, jsonResponse, problemResponses, type App, type RouteContext } from '../context';
import { ProblemError, deviceRetired, notFound, problem, validationError } from '../problems';
import {
  DeviceDetailsSchema,
  DeviceIdParamSchema,
  DeviceListQuerySchema,
  DeviceListSchema,
  ReportListSchema,
  ReportsQuerySchema,
  SyncAcceptedSchema,
} from '../schemas';

type DeviceDetails = z.infer<typeof DeviceDetailsSchema>;
type ReportItem = z.infer<typeof ReportListSchema>['items'][number];

/**
 * The device details of the HTTP contract. While reporting is off, status and report time read null
 * (docs/product-rules.md); `lastAttemptAt` and `lastSuccessfulReportAt` are never blanked.
 */
export function toDeviceDetails(row: DeviceRow, enabled: boolean): DeviceDetails {
  return {
    deviceId: row.deviceId,
    platform: row.platform as DeviceDetails['platform'],
    azureDeviceIdentifier: row.azureDeviceId,
    azureDeviceComplianceStatus: enabled ? (row.complianceStatus as DeviceDetails['azureDeviceComplianceStatus']) : null,
    azureClientStatusCode: row.clientStatusCode as DeviceDetails['azureClientStatusCode'],
    azureDeviceComplianceReportTime: enabled ? row.reportTime : null,
    policyAction: row.policyAction as DeviceDetails['policyAction'],
    reportedCompliance: row.reportedCompliance as DeviceDetails['reportedCompliance'],
    managementState: row.managementState as DeviceDetails['managementState'],
    lastAttemptAt: row.lastAttemptAt,
    lastSuccessfulReportAt: row.lastSuccessfulReportAt,
    lastError: row.lastError,
    retiredAt: row.retiredAt,
    updatedAt: row.updatedAt,
    graceUntil: row.graceUntil ?? null,
    gracePendingAction: (row.graceAction ?? null) as DeviceDetails['gracePendingAction'],
    userPrincipalName: row.userPrincipalName,
    inventory: row.inventory as DeviceDetails['inventory'],
  };
}

/** Opaque page cursor: base64url of the last device id of the page. */
export function encodeCursor(deviceId: string): string {
  return Buffer.from(deviceId, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return null;
  const deviceId = Buffer.from(cursor, 'base64url').toString('utf8');
  if (encodeCursor(deviceId) !== cursor) return null;
  return deviceIdSchema.safeParse(deviceId).success ? deviceId : null;
}

const noSuchDevice = (deviceId: string) => notFound(`No device "${deviceId}" was ever seen`);

export function registerDeviceRoutes(app: App, ctx: RouteContext): void {
  const { deps, guard } = ctx;
  const { db, temporal } = deps;
  const tags = ['Admin'];

  // A device's details read null status while reporting is off; a device GET must not pay a second
  // query for that (a switch is seen within a second, by every replica).
  const enabledReader = reportingEnabledReader(db);
  const reportingEnabled = (tenantId: string) => guard.db(() => enabledReader(tenantId));
  /** The device row and whether reporting is on; no second query nor its guard while a `true` is fresh. */
  const deviceAndEnabled = (tenantId: string, deviceId: string): Promise<[DeviceRow, boolean]> =>
    enabledReader.freshOn(tenantId)
      ? deviceOr404(tenantId, deviceId).then((row) => [row, true])
      : Promise.all([deviceOr404(tenantId, deviceId), reportingEnabled(tenantId)]);
  // Every read is the request's tenant's: another tenant's device does not exist for it.
  const deviceOr404 = async (tenantId: string, deviceId: string): Promise<DeviceRow> => {
    const row = await guard.db(() => getDevice(db, tenantId, deviceId));
    if (!row) throw noSuchDevice(deviceId);
    return row;
  };

  // ---- GET /v1/devices/{deviceId} -------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/devices/{deviceId}',
      tags,
      summary: "A device's Azure Device Details",
      description:
        'The four Azure Device Details fields plus what an admin needs to act. While the feature is disabled, ' +
        'azureDeviceComplianceStatus and azureDeviceComplianceReportTime read null.',
      security: ADMIN_SECURITY,
      middleware: [ctx.adminOnly] as const,
      request: { params: DeviceIdParamSchema },
      responses: {
        200: jsonResponse(DeviceDetailsSchema, 'The device'),
        ...problemResponses([400, 401, 403, 404, 500, 503] as const, { 404: 'The device was never seen' }),
      },
    }),
    async (c) => {
      const { deviceId } = c.req.valid('param');
      const tenantId = c.get('tenantId');
      const [row, enabled] = await deviceAndEnabled(tenantId, deviceId);
      return c.json(toDeviceDetails(row, enabled), 200);
    },
  );

  // ---- GET /v1/devices --------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/devices',
      tags,
      summary: 'List devices',
      description:
        'Ordered by deviceId, keyset-paginated: pass the nextCursor of a page as cursor to get the next one; ' +
        'nextCursor is null on the last page. Unknown query parameters are rejected.',
      security: ADMIN_SECURITY,
      middleware: [ctx.adminOnly] as const,
      request: { query: DeviceListQuerySchema },
      responses: {
        200: jsonResponse(DeviceListSchema, 'One page of devices'),
        ...problemResponses([400, 401, 403, 500, 503] as const),
      },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const tenantId = c.get('tenantId');
      let after: string | undefined;
      if (query.cursor !== undefined) {
        const decoded = decodeCursor(query.cursor);
        if (decoded === null) {
          throw validationError('Invalid query parameter', [{ path: 'cursor', message: 'Not a cursor returned by this API' }]);
        }
        after = decoded;
      }
      const filter: DeviceFilter = {};
      if (query.complianceStatus !== undefined) filter.complianceStatus = query.complianceStatus;
      if (query.clientStatusCode !== undefined) filter.clientStatusCode = query.clientStatusCode;
      if (query.retired !== undefined) filter.retired = query.retired === 'true';
      const settings = await guard.db(() => getSettings(db, tenantId));
      // While disabled every status reads null, so no device matches a status filter.
      if (!settings.enabled && filter.complianceStatus !== undefined) return c.json({ items: [], nextCursor: null }, 200);
      const rows = await guard.db(() => listDevices(db, tenantId, filter, query.limit + 1, after));
      const page = rows.slice(0, query.limit);
      const nextCursor = rows.length > query.limit ? encodeCursor(page[page.length - 1]!.deviceId) : null;
      return c.json({ items: page.map((r) => toDeviceDetails(r, settings.enabled)), nextCursor }, 200);
    },
  );

  // ---- GET /v1/devices/{deviceId}/reports -------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/devices/{deviceId}/reports',
      tags,
      summary: "A device's report-attempt timeline, newest first",
      security: ADMIN_SECURITY,
      middleware: [ctx.adminOnly] as const,
      request: { params: DeviceIdParamSchema, query: ReportsQuerySchema },
      responses: {
        200: jsonResponse(ReportListSchema, 'The newest attempts'),
        ...problemResponses([400, 401, 403, 404, 500, 503] as const, { 404: 'The device was never seen' }),
      },
    }),
    async (c) => {
      const { deviceId } = c.req.valid('param');
      const { limit } = c.req.valid('query');
      const tenantId = c.get('tenantId');
      await deviceOr404(tenantId, deviceId);
      const attempts = await guard.db(() => listReportAttempts(db, tenantId, deviceId, limit));
      const items: ReportItem[] = attempts.map((a) => ({
        at: a.at,
        trigger: a.trigger as ReportItem['trigger'],
        reported: a.reported as ReportItem['reported'],
        outcome: a.outcome,
        messageId: a.messageId,
        error: a.error,
        ...(a.drift ? { drift: a.drift as Record<string, unknown> } : {}),
        ...(a.grace ? { grace: a.grace as NonNullable<ReportItem['grace']> } : {}),
      }));
      return c.json({ items }, 200);
    },
  );

  // ---- POST /v1/devices/{deviceId}/sync -----------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/devices/{deviceId}/sync',
      tags,
      summary: "Report the device's current state now",
      description: "Runs the device workflow's sync Update; 202 once the workflow accepted it.",
      security: ADMIN_SECURITY,
      middleware: [ctx.adminOnly, ctx.limitBody] as const,
      request: { params: DeviceIdParamSchema },
      responses: {
        202: jsonResponse(SyncAcceptedSchema, 'The workflow will report the current state'),
        ...problemResponses([400, 401, 403, 404, 409, 413, 500, 503] as const, {
          404: 'The device was never seen',
          409: 'The device is retired (type ends in /device-retired), or its workflow is not running (/device-not-running)',
        }),
      },
    }),
    async (c) => {
      const { deviceId } = c.req.valid('param');
      const tenantId = c.get('tenantId');
      const row = await deviceOr404(tenantId, deviceId);
      if (row.retiredAt !== null) throw deviceRetired(deviceId);
      try {
        await guard.temporal(() => temporal.workflow.getHandle(deviceWorkflowId(tenantId, deviceId)).executeUpdate(syncUpdate));
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === 'DeviceRetired') {
          throw deviceRetired(deviceId);
        }
        if (err instanceof WorkflowNotFoundError) {
          throw new ProblemError(
            problem(
              'device-not-running',
              `The workflow of device "${deviceId}" is not running (terminated or failed); a registration event starts it again`,
            ),
          );
        }
        throw err;
      }
      await guard.db(() =>
        recordAudit(db, {
          tenantId,
          actor: auditActor(c.env, c.get('principal').role),
          action: 'device.sync',
          target: deviceId,
          detail: null,
        }),
      );
      return c.json({ deviceId, accepted: true as const }, 202);
    },
  );
}
