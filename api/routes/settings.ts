/**
 * The tenant's settings (docs/http-contract.md): the reporting switch, the weekly report's pause,
 * the last tenant heartbeat. A change with side effects (enable: report every device; pause: the
 * weekly Schedule) is undone when a side effect fails.
 */
import { createRoute, type z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { getSettings, updateSettings, type Settings } from '../../db/data';
import { auditActor, recordAudit } from '../../db/audit';
import { ADMIN_SECURITY, jsonResponse, problemResponses, type App, type AppEnv, type RouteContext } from '../context';
import { SettingsSchema, SettingsUpdateSchema } from '../schemas';

type SettingsView = z.infer<typeof SettingsSchema>;

export function toSettingsView(s: Settings): SettingsView {
  return {
    enabled: s.enabled,
    weeklyReport: { paused: s.weeklyReportPaused },
    heartbeat: { lastAt: s.lastHeartbeatAt, result: s.lastHeartbeatResult },
  };
}

export type SettingsPatch = Partial<Pick<Settings, 'enabled' | 'weeklyReportPaused'>>;

/**
 * Changes a tenant's settings with their side effects (enable: report every device; pause: the weekly
 * Schedule), undoing the change when a side effect fails, and records it in the audit trail. Shared by
 * PUT /v1/settings (the tenant's admin) and PUT /v1/tenants/{tenantId} (the operator).
 */
export async function changeSettings(ctx: RouteContext, c: Context<AppEnv>, tenantId: string, patch: SettingsPatch): Promise<Settings> {
  const { deps, guard } = ctx;
  const { db } = deps;
  const { before, after } = await guard.db(() => updateSettings(db, tenantId, patch));
  let scheduleChanged = false;
  try {
    if (before.weeklyReportPaused !== after.weeklyReportPaused) {
      await guard.external(() => deps.schedules.setWeeklyReportPaused(after.weeklyReportPaused, tenantId));
      scheduleChanged = true;
    }
    if (!before.enabled && after.enabled) {
      const { operationId } = await guard.external(() => deps.fleet.start('enable', null, tenantId));
      c.get('log').info({ operationId, tenantId }, 'feature enabled: reporting every device');
    }
  } catch (err) {
    // Undo, so that the request changed nothing and repeating it runs the side effects again.
    const log = c.get('log');
    await guard
      .db(() => updateSettings(db, tenantId, { enabled: before.enabled, weeklyReportPaused: before.weeklyReportPaused }))
      .catch((undoErr: unknown) => log.error({ err: undoErr }, 'could not undo the settings change'));
    if (scheduleChanged) {
      await guard
        .external(() => deps.schedules.setWeeklyReportPaused(before.weeklyReportPaused, tenantId))
        .catch((undoErr: unknown) => log.error({ err: undoErr }, 'could not undo the weekly schedule change'));
    }
    throw err;
  }
  await guard.db(() =>
    recordAudit(db, {
      tenantId,
      actor: auditActor(c.env, c.get('principal').role),
      action: 'settings.update',
      target: null,
      detail: { ...patch },
    }),
  );
  return after;
}

export function registerSettingsRoutes(app: App, ctx: RouteContext): void {
  const { deps, guard } = ctx;
  const { db } = deps;
  const tags = ['Admin'];

  const settingsNow = (tenantId: string) => guard.db(() => getSettings(db, tenantId));

  // ---- GET /v1/settings -----------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/settings',
      tags,
      summary: 'The feature switch and the weekly report',
      security: ADMIN_SECURITY,
      middleware: [ctx.adminOnly] as const,
      responses: {
        200: jsonResponse(SettingsSchema, 'The settings'),
        ...problemResponses([401, 403, 500, 503] as const),
      },
    }),
    async (c) => c.json(toSettingsView(await settingsNow(c.get('tenantId'))), 200),
  );

  // ---- PUT /v1/settings -----------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/settings',
      tags,
      summary: 'Change the settings',
      description:
        'Accepts the whole settings object or part of it. Turning enabled from false to true reports every ' +
        "device's current state (a fleet operation); changing weeklyReport.paused pauses or resumes the weekly schedule. " +
        'When that fails, the change is undone and 503 is answered.',
      security: ADMIN_SECURITY,
      middleware: [ctx.adminOnly, ctx.limitBody] as const,
      request: { body: { required: true, content: { 'application/json': { schema: SettingsUpdateSchema } } } },
      responses: {
        200: jsonResponse(SettingsSchema, 'The settings after the change'),
        ...problemResponses([400, 401, 403, 413, 415, 500, 503] as const),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const patch: SettingsPatch = {};
      if (body.enabled !== undefined) patch.enabled = body.enabled;
      if (body.weeklyReport?.paused !== undefined) patch.weeklyReportPaused = body.weeklyReport.paused;
      return c.json(toSettingsView(await changeSettings(ctx, c, c.get('tenantId'), patch)), 200);
    },
  );
}
