/**
 * The tenant's settings (docs/http-contract.md): the reporting switch, the weekly report's pause,
 * the grace periods per policy action, the last tenant heartbeat. A change with side effects (enable: report every device; pause: the
 * weekly Schedule) is undone when a side effect fails.
 */
import { createRoute, type z } from '@hono/zod-openapi';
import { getSettings, updateSettings, type Settings } from '../../db/data';
import { auditActor, recordAudit } from '../../db/audit';
import { ADMIN_SECURITY, jsonResponse, problemResponses, type App, type RouteContext } from '../context';
import { SettingsSchema, SettingsUpdateSchema } from '../schemas';

type SettingsView = z.infer<typeof SettingsSchema>;

export function toSettingsView(s: Settings): SettingsView {
  return {
    enabled: s.enabled,
    weeklyReport: { paused: s.weeklyReportPaused },
    gracePeriods: s.gracePeriods,
    heartbeat: { lastAt: s.lastHeartbeatAt, result: s.lastHeartbeatResult },
  };
}

export function registerSettingsRoutes(app: App, ctx: RouteContext): void {
  const { deps, guard } = ctx;
  const { db, tenantId } = deps;
  const tags = ['Admin'];

  const settingsNow = () => guard.db(() => getSettings(db, tenantId));

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
    async (c) => c.json(toSettingsView(await settingsNow()), 200),
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
      const patch: Parameters<typeof updateSettings>[2] = {};
      if (body.enabled !== undefined) patch.enabled = body.enabled;
      if (body.weeklyReport?.paused !== undefined) patch.weeklyReportPaused = body.weeklyReport.paused;
      if (body.gracePeriods !== undefined) patch.gracePeriods = body.gracePeriods;
      const { before, after } = await guard.db(() => updateSettings(db, tenantId, patch));
      let scheduleChanged = false;
      try {
        if (before.weeklyReportPaused !== after.weeklyReportPaused) {
          await guard.external(() => deps.schedules.setWeeklyReportPaused(after.weeklyReportPaused));
          scheduleChanged = true;
        }
        if (!before.enabled && after.enabled) {
          const { operationId } = await guard.external(() => deps.fleet.start('enable', null));
          c.get('log').info({ operationId }, 'feature enabled: reporting every device');
        }
      } catch (err) {
        // Undo, so that the request changed nothing and repeating it runs the side effects again.
        const log = c.get('log');
        await guard
          .db(() =>
            updateSettings(db, tenantId, {
              enabled: before.enabled,
              weeklyReportPaused: before.weeklyReportPaused,
              gracePeriods: before.gracePeriods,
            }),
          )
          .catch((undoErr: unknown) => log.error({ err: undoErr }, 'could not undo the settings change'));
        if (scheduleChanged) {
          await guard
            .external(() => deps.schedules.setWeeklyReportPaused(before.weeklyReportPaused))
            .catch((undoErr: unknown) => log.error({ err: undoErr }, 'could not undo the weekly schedule change'));
        }
        throw err;
      }
      await guard.db(() =>
        recordAudit(db, { tenantId, actor: auditActor(c.env), action: 'settings.update', target: null, detail: { ...patch } }),
      );
      return c.json(toSettingsView(after), 200);
    },
  );
}
