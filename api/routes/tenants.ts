/**
 * The operator's tenant routes (docs/http-contract.md, "Tenants"): register a customer tenant (its
 * admin-consent link and its keys, shown once), Microsoft's redirect after the customer's admin
 * consented, the registry as the operator sees it (state, devices, heartbeat, token health,
 * throttling, last weekly report), its settings and keys, and offboarding. The onboarding and
 * offboarding themselves are workflows the worker runs (workflows/tenant-messages.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createRoute, type z } from '@hono/zod-openapi';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Context } from 'hono';
import {
  acceptConsent,
  apiKeyDigest,
  beginOffboarding,
  countDevicesByTenant,
  createConsentRequest,
  createTenant,
  getConsentRequest,
  getTenant,
  lastWeeklyReports,
  listOffboardings,
  listTenants,
  rotateTenantKeys,
  setTenantStateReason,
  settingsByTenant,
  undoConsent,
  undoOffboarding,
  updateTenant,
  type NewTenantKey,
  type Tenant,
  type TenantDeviceCounts,
  type TenantSettingsSummary,
  type WeeklyReportRun,
} from '../../db/tenants';
import { generateKey } from '../../lib/keys';
import type { TenantOffboardingInput, TenantOnboardingInput } from '../../workflows/tenant-messages';
import { startTenantOffboarding, startTenantOnboarding } from '../../workers/tenant-lifecycle-client';
import { OPERATOR_SECURITY, jsonResponse, problemResponses, type App, type AppEnv, type RouteContext } from '../context';
import { ProblemError, notFound, problem, validationError } from '../problems';
import { changeSettings, type SettingsPatch } from './settings';
import { decodeCursor as decodeDeviceCursor, encodeCursor } from './devices';
import {
  ConsentCallbackQuerySchema,
  ConsentCallbackResultSchema,
  TENANT_ID_PATTERN,
  TenantCreateSchema,
  TenantCreatedSchema,
  TenantDeleteQuerySchema,
  TenantIdParamSchema,
  TenantListQuerySchema,
  TenantListSchema,
  TenantOffboardingSchema,
  TenantSchema,
  TenantUpdateSchema,
  TenantUpdatedSchema,
} from '../tenant-schemas';

type TenantView = z.infer<typeof TenantSchema>;

/** Where Microsoft sends the customer's admin back after the consent page. */
export const CONSENT_CALLBACK_PATH = '/v1/tenants/consent-callback';

/** A tenant's two new keys: the keys for the answer, their digests for the registry. */
function newTenantKeys(): { mdmApiKey: string; adminApiKey: string; digests: NewTenantKey[] } {
  const mdmApiKey = generateKey();
  const adminApiKey = generateKey();
  return {
    mdmApiKey,
    adminApiKey,
    digests: [
      { digest: apiKeyDigest(mdmApiKey), role: 'mdm' },
      { digest: apiKeyDigest(adminApiKey), role: 'admin' },
    ],
  };
}

/** The `state` of a consent link: unguessable, used once. */
const newConsentState = (): string => randomBytes(32).toString('base64url');

const NO_DEVICES: TenantDeviceCounts = { total: 0, Successful: 0, Failed: 0, 'In-progress': 0 };
/** A tenant without a settings row yet has the defaults (db/data.ts getSettings). */
const DEFAULT_SETTINGS: TenantSettingsSummary = { enabled: true, weeklyReportPaused: false, lastHeartbeatAt: null };

export function toTenantView(
  t: Tenant,
  devices: TenantDeviceCounts | undefined,
  settings: TenantSettingsSummary | undefined,
  weekly: WeeklyReportRun | undefined,
): TenantView {
  const s = settings ?? DEFAULT_SETTINGS;
  return {
    tenantId: t.tenantId,
    displayName: t.displayName,
    state: t.state,
    stateReason: t.stateReason,
    createdAt: t.createdAt,
    consentedAt: t.consentedAt,
    activatedAt: t.activatedAt,
    devices: devices ?? NO_DEVICES,
    lastHeartbeat: s.lastHeartbeatAt,
    token: { ok: t.tokenOk, checkedAt: t.tokenCheckedAt, error: t.tokenError },
    lastThrottledAt: t.lastThrottledAt,
    lastWeeklyReport: weekly ?? null,
    settings: { enabled: s.enabled, weeklyReport: { paused: s.weeklyReportPaused, cron: t.weeklyCron } },
  };
}

/** Tenant cursors are opaque like device cursors: base64url of the last tenant id of the page. */
function decodeTenantCursor(cursor: string): string | null {
  const id = decodeDeviceCursor(cursor);
  return id !== null && TENANT_ID_PATTERN.test(id) ? id : null;
}

export function registerTenantRoutes(app: App, ctx: RouteContext): void {
  const { deps, guard } = ctx;
  const { db, config, temporal } = deps;
  const tags = ['Tenants'];

  /** Microsoft's admin-consent page for the partner app, for this tenant, returning to our callback. */
  function consentUrl(c: Context<AppEnv>, tenantId: string, state: string): string {
    const azure = config.azure;
    if (!azure) {
      throw new ProblemError(problem('internal', 'No partner app is configured (AZURE_CLIENT_ID): a consent link cannot be made'));
    }
    const redirect = `${config.apiPublicUrl ?? new URL(c.req.url).origin}${CONSENT_CALLBACK_PATH}`;
    const url = new URL(`${azure.authorityHost}/${encodeURIComponent(tenantId)}/adminconsent`);
    url.searchParams.set('client_id', azure.clientId);
    url.searchParams.set('redirect_uri', redirect);
    url.searchParams.set('state', state);
    return url.toString();
  }

  async function tenantOr404(tenantId: string): Promise<Tenant> {
    const tenant = await guard.db(() => getTenant(db, tenantId));
    if (!tenant) throw notFound(`No tenant "${tenantId}"`);
    return tenant;
  }

  /** What the operator sees of each tenant: three grouped queries for a whole page. */
  async function views(tenants: Tenant[]): Promise<TenantView[]> {
    const ids = tenants.map((t) => t.tenantId);
    const [devices, settings, weekly] = await guard.db(() =>
      Promise.all([countDevicesByTenant(db, ids), settingsByTenant(db, ids), lastWeeklyReports(db, ids)]),
    );
    return tenants.map((t) => toTenantView(t, devices.get(t.tenantId), settings.get(t.tenantId), weekly.get(t.tenantId)));
  }

  const isConfiguredTenant = (tenantId: string) => tenantId === deps.tenantId || tenantId === config.azure?.tenantId;

  // ---- GET /v1/tenants/consent-callback (registered before /v1/tenants/{tenantId}) ------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: CONSENT_CALLBACK_PATH,
      tags,
      summary: "Microsoft's redirect after a customer's admin answered the consent page",
      description:
        'No API key: the `state` must be one this connector issued with a consent link, unused. Consent granted: the tenant ' +
        'becomes `consented` and the connector activates it at Intune (it becomes `active`). Consent declined (`error`): ' +
        'the tenant stays where it was, with the reason; the same link may be used again.',
      request: { query: ConsentCallbackQuerySchema },
      responses: {
        200: jsonResponse(ConsentCallbackResultSchema, 'Consent recorded, or its refusal'),
        ...problemResponses([400, 409, 500, 503] as const, {
          400: 'No `state`, a `state` this connector never issued, or a `tenant` other than the one the link was for',
          409: 'The link was used already (a replay), or the tenant is being offboarded',
        }),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      if (q.state === undefined || q.state === '' || q.state.length > 256) {
        throw validationError('Invalid query parameter', [{ path: 'state', message: 'Required: the state the consent link carried' }]);
      }
      const state = q.state;
      const request = await guard.db(() => getConsentRequest(db, state));
      if (!request) {
        throw new ProblemError(
          problem('consent-state-invalid', 'This consent response does not come from a link this connector issued; nothing changed', [
            { path: 'state', message: 'Not issued by this connector' },
          ]),
        );
      }
      if (request.usedAt !== null) {
        throw new ProblemError(
          problem('consent-state-used', 'This consent link was used already; ask the operator for a new one if needed'),
        );
      }
      const tenantId = request.tenantId;
      if (q.tenant !== undefined && q.tenant.toLowerCase() !== tenantId.toLowerCase()) {
        throw new ProblemError(
          problem('consent-state-invalid', 'The consent was given in another tenant than the link was for; nothing changed', [
            { path: 'tenant', message: `The link was for tenant ${tenantId}` },
          ]),
        );
      }
      if (q.error !== undefined && q.error !== '') {
        const why = (q.error_description ?? q.error).slice(0, 500);
        await guard.db(() => setTenantStateReason(db, tenantId, `The administrator did not grant consent (${q.error}): ${why}`));
        const tenant = await tenantOr404(tenantId);
        c.get('log').info({ tenantId, error: q.error }, 'admin consent declined');
        return c.json(
          { tenantId, state: tenant.state, message: 'Consent was not granted, so nothing was activated. The same link can be used again.' },
          200,
        );
      }
      if (q.admin_consent?.toLowerCase() !== 'true') {
        throw validationError('Invalid query parameter', [{ path: 'admin_consent', message: 'Must be True when no error is given' }]);
      }

      const accepted = await guard.db(() => acceptConsent(db, state));
      if (accepted.outcome !== 'consented') {
        if (accepted.outcome === 'unknown') throw validationError('Invalid query parameter', [{ path: 'state', message: 'Not issued' }]);
        if (accepted.outcome === 'replayed') throw new ProblemError(problem('consent-state-used', 'This consent link was used already'));
        throw new ProblemError(problem('tenant-offboarding', `Tenant ${tenantId} is being offboarded; its consent was not recorded`));
      }
      const { before } = accepted;
      const input: TenantOnboardingInput = { tenantId };
      try {
        await guard.temporal(() => startTenantOnboarding(temporal, input, config.temporal.taskQueue));
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
          // Nothing changed: the link works again once Temporal answers.
          await guard
            .db(() => undoConsent(db, state, tenantId, before))
            .catch((undoErr: unknown) => c.get('log').error({ err: undoErr, tenantId }, 'could not undo the consent'));
          throw err;
        }
      }
      ctx.keys.forgetTenant(tenantId);
      c.get('log').info({ tenantId }, 'admin consent granted: onboarding started');
      return c.json(
        {
          tenantId,
          state: 'consented' as const,
          message: 'Consent recorded. The connector is activating this tenant at Microsoft Intune; it reports its devices once active.',
        },
        200,
      );
    },
  );

  // ---- POST /v1/tenants ----------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/tenants',
      tags,
      summary: 'Register a customer tenant',
      description:
        "Answers the admin-consent link to send to the customer's Global Administrator, and the tenant's MDM and admin keys, " +
        'shown only this once (only their digests are kept). The tenant is `pending-consent` until its admin consents.',
      security: OPERATOR_SECURITY,
      middleware: [ctx.operatorOnly, ctx.limitBody] as const,
      request: { body: { required: true, content: { 'application/json': { schema: TenantCreateSchema } } } },
      responses: {
        201: jsonResponse(TenantCreatedSchema, 'Registered'),
        ...problemResponses([400, 401, 403, 409, 413, 415, 500, 503] as const, { 409: 'The tenant is registered already' }),
      },
    }),
    async (c) => {
      const { tenantId, displayName } = c.req.valid('json');
      if (isConfiguredTenant(tenantId)) {
        throw new ProblemError(problem('tenant-exists', `Tenant ${tenantId} is this deployment's configured tenant (AZURE_TENANT_ID)`));
      }
      const keys = newTenantKeys();
      const consentState = newConsentState();
      const link = consentUrl(c, tenantId, consentState);
      const created = await guard.db(() => createTenant(db, { tenantId, displayName, keys: keys.digests, consentState }));
      if (!created) throw new ProblemError(problem('tenant-exists', `Tenant ${tenantId} is registered already`));
      c.get('log').info({ tenantId }, 'tenant registered');
      return c.json(
        { tenantId, state: 'pending-consent' as const, consentUrl: link, mdmApiKey: keys.mdmApiKey, adminApiKey: keys.adminApiKey },
        201,
      );
    },
  );

  // ---- GET /v1/tenants -----------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/tenants',
      tags,
      summary: 'List tenants',
      description: 'Ordered by tenantId, keyset-paginated like GET /v1/devices.',
      security: OPERATOR_SECURITY,
      middleware: [ctx.operatorOnly] as const,
      request: { query: TenantListQuerySchema },
      responses: {
        200: jsonResponse(TenantListSchema, 'One page of tenants'),
        ...problemResponses([400, 401, 403, 500, 503] as const),
      },
    }),
    async (c) => {
      const query = c.req.valid('query');
      let after: string | undefined;
      if (query.cursor !== undefined) {
        const decoded = decodeTenantCursor(query.cursor);
        if (decoded === null)
          throw validationError('Invalid query parameter', [{ path: 'cursor', message: 'Not a cursor returned by this API' }]);
        after = decoded;
      }
      const rows = await guard.db(() => listTenants(db, query.limit + 1, after));
      const page = rows.slice(0, query.limit);
      const nextCursor = rows.length > query.limit ? encodeCursor(page[page.length - 1]!.tenantId) : null;
      return c.json({ items: await views(page), nextCursor }, 200);
    },
  );

  // ---- GET /v1/tenants/{tenantId} ------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/tenants/{tenantId}',
      tags,
      summary: 'One tenant',
      security: OPERATOR_SECURITY,
      middleware: [ctx.operatorOnly] as const,
      request: { params: TenantIdParamSchema },
      responses: {
        200: jsonResponse(TenantSchema, 'The tenant'),
        ...problemResponses([400, 401, 403, 404, 500, 503] as const, { 404: 'No such tenant' }),
      },
    }),
    async (c) => {
      const tenant = await tenantOr404(c.req.valid('param').tenantId);
      return c.json((await views([tenant]))[0]!, 200);
    },
  );

  // ---- PUT /v1/tenants/{tenantId} ------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/tenants/{tenantId}',
      tags,
      summary: "Change a tenant's name or settings, rotate its keys, or issue a new consent link",
      description:
        'Settings behave as PUT /v1/settings for that tenant (enabling reports every device; pausing pauses its weekly Schedule). ' +
        '`weeklyReport.cron` sets its own weekly cron (null: the default spread). `rotateKeys` answers new keys once and ' +
        'the old ones stop working. `requestConsent` answers a new admin-consent link (e.g. after consent was revoked).',
      security: OPERATOR_SECURITY,
      middleware: [ctx.operatorOnly, ctx.limitBody] as const,
      request: {
        params: TenantIdParamSchema,
        body: { required: true, content: { 'application/json': { schema: TenantUpdateSchema } } },
      },
      responses: {
        200: jsonResponse(TenantUpdatedSchema, 'The tenant after the change'),
        ...problemResponses([400, 401, 403, 404, 409, 413, 415, 500, 503] as const, {
          404: 'No such tenant',
          409: 'The tenant is being offboarded, or (rotateKeys) its keys are set in the environment',
        }),
      },
    }),
    async (c) => {
      const { tenantId } = c.req.valid('param');
      const body = c.req.valid('json');
      const tenant = await tenantOr404(tenantId);
      if (tenant.state === 'offboarding') throw new ProblemError(problem('tenant-offboarding', `Tenant ${tenantId} is being offboarded`));
      if (body.rotateKeys && isConfiguredTenant(tenantId)) {
        throw new ProblemError(
          problem('tenant-configured', "This tenant's keys are MDM_API_KEY and ADMIN_API_KEY: change them in the environment", [
            { path: 'rotateKeys', message: 'Not for the configured tenant' },
          ]),
        );
      }

      const patch: SettingsPatch = {};
      if (body.settings?.enabled !== undefined) patch.enabled = body.settings.enabled;
      if (body.settings?.weeklyReport?.paused !== undefined) patch.weeklyReportPaused = body.settings.weeklyReport.paused;
      // The one part with side effects outside Postgres goes first: it undoes itself when they fail.
      if (Object.keys(patch).length > 0) await changeSettings(ctx, c, tenantId, patch);

      const cron = body.settings?.weeklyReport?.cron;
      if (body.displayName !== undefined || cron !== undefined) {
        await guard.db(() =>
          updateTenant(db, tenantId, {
            ...(body.displayName !== undefined ? { displayName: body.displayName } : {}),
            ...(cron !== undefined ? { weeklyCron: cron } : {}),
          }),
        );
        if (cron !== undefined && deps.schedules.setWeeklyReportCron) {
          await guard.external(() => deps.schedules.setWeeklyReportCron!(cron, tenantId));
        }
      }

      const extra: { mdmApiKey?: string; adminApiKey?: string; consentUrl?: string } = {};
      if (body.rotateKeys) {
        const keys = newTenantKeys();
        const revoked = await guard.db(() => rotateTenantKeys(db, tenantId, keys.digests));
        if (revoked === null) throw notFound(`No tenant "${tenantId}"`);
        ctx.keys.forgetKeys(revoked);
        extra.mdmApiKey = keys.mdmApiKey;
        extra.adminApiKey = keys.adminApiKey;
        c.get('log').info({ tenantId, revoked: revoked.length }, 'tenant keys rotated');
      }
      if (body.requestConsent) {
        const state = newConsentState();
        extra.consentUrl = consentUrl(c, tenantId, state);
        await guard.db(() => createConsentRequest(db, tenantId, state));
      }
      const after = await tenantOr404(tenantId);
      return c.json({ ...(await views([after]))[0]!, ...extra }, 200);
    },
  );

  // ---- DELETE /v1/tenants/{tenantId} ---------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/tenants/{tenantId}',
      tags,
      summary: 'Offboard a tenant',
      description:
        'The tenant becomes `offboarding` and its keys stop working; the worker stops its Schedules, reports every device ' +
        '`notManaged` to Microsoft first when reportNotManaged=true, removes its data and keeps a record of the offboarding. ' +
        'Asked again while it runs: the same operation.',
      security: OPERATOR_SECURITY,
      middleware: [ctx.operatorOnly] as const,
      request: { params: TenantIdParamSchema, query: TenantDeleteQuerySchema },
      responses: {
        202: jsonResponse(TenantOffboardingSchema, 'Offboarding started'),
        ...problemResponses([400, 401, 403, 404, 409, 500, 503] as const, {
          404: 'No such tenant',
          409: "The deployment's configured tenant (AZURE_TENANT_ID) is not offboarded through the API",
        }),
      },
    }),
    async (c) => {
      const { tenantId } = c.req.valid('param');
      const reportNotManaged = c.req.valid('query').reportNotManaged === 'true';
      if (isConfiguredTenant(tenantId)) {
        throw new ProblemError(
          problem('tenant-configured', `Tenant ${tenantId} is this deployment's configured tenant (AZURE_TENANT_ID); unset it instead`),
        );
      }
      const tenant = await tenantOr404(tenantId);
      if (tenant.state === 'offboarding') {
        const [running] = await guard.db(() => listOffboardings(db, tenantId));
        if (running) return c.json({ operationId: running.operationId, tenantId, state: 'offboarding' as const }, 202);
      }
      const operationId = `offboard-${randomUUID()}`;
      const begun = await guard.db(() => beginOffboarding(db, { tenantId, operationId, reportNotManaged }));
      if (!begun) throw notFound(`No tenant "${tenantId}"`);
      ctx.keys.forgetTenant(tenantId);
      const input: TenantOffboardingInput = { tenantId, reportNotManaged, operationId };
      try {
        await guard.temporal(() => startTenantOffboarding(temporal, input, config.temporal.taskQueue));
      } catch (err) {
        await guard
          .db(() => undoOffboarding(db, operationId, tenantId, begun.before))
          .catch((undoErr: unknown) => c.get('log').error({ err: undoErr, tenantId }, 'could not undo the offboarding'));
        ctx.keys.forgetTenant(tenantId);
        throw err;
      }
      c.get('log').info({ tenantId, operationId, reportNotManaged }, 'tenant offboarding started');
      return c.json({ operationId, tenantId, state: 'offboarding' as const }, 202);
    },
  );
}
