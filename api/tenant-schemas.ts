/**
 * Schemas of the operator's tenant routes (docs/http-contract.md, "Tenants"), kept apart from
 * api/schemas.ts so the tenant registry's API reads in one place.
 */
import { z } from '@hono/zod-openapi';
import { isCronExpression } from '../config';
import { TENANT_STATES } from '../db/tenants';
import { intQuery } from './schemas';

const isoTime = (description: string) => z.string().openapi({ format: 'date-time', description, example: '2026-11-28T10:00:02.120Z' });

/** A tenant id in a path: the Entra tenant GUID (the single tenant's id is taken as configured). */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export const TenantIdParamSchema = z.object({
  tenantId: z
    .string()
    .regex(TENANT_ID_PATTERN, { error: 'Must be a tenant id (the Entra tenant GUID)' })
    .openapi({ param: { name: 'tenantId', in: 'path' }, example: '4f3c2b1a-0d9e-4c8b-a7f6-e5d4c3b2a190' }),
});

export const TenantCreateSchema = z
  .strictObject(
    {
      tenantId: z.uuid({ error: 'Must be the Entra tenant id (a GUID)' }).openapi({ example: '4f3c2b1a-0d9e-4c8b-a7f6-e5d4c3b2a190' }),
      displayName: z
        .string({ error: 'Must be a string' })
        .trim()
        .min(1, { error: 'Must not be empty' })
        .max(200, { error: 'Must be at most 200 characters' })
        .openapi({ example: 'Contoso Ltd' }),
    },
    { error: 'Must be an object' },
  )
  .openapi('TenantCreate');

export const TenantCreatedSchema = z
  .object({
    tenantId: z.string(),
    state: z.literal('pending-consent'),
    consentUrl: z.string().openapi({
      format: 'uri',
      description: "Send this to the customer's Global Administrator: Microsoft's admin-consent page for the partner app",
    }),
    mdmApiKey: z.string().openapi({ description: "The tenant's MDM key (events only). Shown once: only its digest is kept" }),
    adminApiKey: z.string().openapi({ description: "The tenant's admin key. Shown once: only its digest is kept" }),
  })
  .openapi('TenantCreated');

const DeviceCountsSchema = z
  .object({ total: z.number().int(), Successful: z.number().int(), Failed: z.number().int(), 'In-progress': z.number().int() })
  .openapi({ description: 'Devices by Azure compliance status (devices never reported count in total only)' });

export const TenantSchema = z
  .object({
    tenantId: z.string(),
    displayName: z.string(),
    state: z.enum(TENANT_STATES),
    stateReason: z.string().nullable().openapi({ description: 'Why the tenant is in its state, in plain words (e.g. a revoked consent)' }),
    createdAt: isoTime('Registered'),
    consentedAt: isoTime('Its admin last granted consent').nullable(),
    activatedAt: isoTime('Last activated at Intune').nullable(),
    devices: DeviceCountsSchema,
    lastHeartbeat: isoTime('Last tenant heartbeat sent to Intune').nullable(),
    token: z
      .object({
        ok: z.boolean().nullable(),
        checkedAt: isoTime('When a worker last got (or failed to get) a token').nullable(),
        error: z.string().nullable(),
      })
      .openapi({ description: 'Token health as the workers last saw it (null: not tried yet)' }),
    lastThrottledAt: isoTime('When Microsoft last throttled a call for this tenant').nullable(),
    lastWeeklyReport: z.object({ operationId: z.string(), startedAt: isoTime('Start'), finishedAt: isoTime('End').nullable() }).nullable(),
    settings: z.object({
      enabled: z.boolean(),
      weeklyReport: z.object({
        paused: z.boolean(),
        cron: z
          .string()
          .nullable()
          .openapi({ description: "The tenant's own weekly cron (UTC); null: the default, spread over the week's first hours" }),
      }),
    }),
  })
  .openapi('Tenant');

export const TenantListQuerySchema = z.strictObject({
  limit: intQuery('limit', 1, 500, 100),
  cursor: z
    .string()
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' }, description: 'The `nextCursor` of the previous page (opaque)' }),
});

export const TenantListSchema = z
  .object({ items: z.array(TenantSchema), nextCursor: z.string().nullable().openapi({ description: 'null on the last page' }) })
  .openapi('TenantList');

const cron = z.string({ error: 'Must be a five-field cron expression or null' }).trim().refine(isCronExpression, {
  error: 'Must be a five-field cron expression (minute hour day-of-month month day-of-week), e.g. "0 6 * * 1"',
});

export const TenantUpdateSchema = z
  .strictObject(
    {
      displayName: TenantCreateSchema.shape.displayName.optional(),
      settings: z
        .strictObject(
          {
            enabled: z.boolean({ error: 'Must be true or false' }).optional(),
            weeklyReport: z
              .strictObject(
                { paused: z.boolean({ error: 'Must be true or false' }).optional(), cron: cron.nullable().optional() },
                { error: 'Must be an object' },
              )
              .optional(),
          },
          { error: 'Must be an object' },
        )
        .optional(),
      rotateKeys: z
        .boolean({ error: 'Must be true or false' })
        .optional()
        .openapi({ description: 'Issue new MDM and admin keys (answered once); the old ones stop working' }),
      requestConsent: z
        .boolean({ error: 'Must be true or false' })
        .optional()
        .openapi({ description: 'Issue a new admin-consent link (e.g. after the consent was revoked)' }),
    },
    { error: 'Must be an object' },
  )
  .openapi('TenantUpdate', { description: 'Any part; unknown fields are rejected' });

export const TenantUpdatedSchema = TenantSchema.extend({
  mdmApiKey: z.string().optional().openapi({ description: 'Only when rotateKeys: the new MDM key, shown once' }),
  adminApiKey: z.string().optional().openapi({ description: 'Only when rotateKeys: the new admin key, shown once' }),
  consentUrl: z.string().optional().openapi({ description: 'Only when requestConsent: the new admin-consent link' }),
}).openapi('TenantUpdated');

export const TenantDeleteQuerySchema = z.strictObject({
  reportNotManaged: z
    .enum(['true', 'false'], { error: 'Must be true or false' })
    .optional()
    .openapi({
      param: { name: 'reportNotManaged', in: 'query' },
      description: 'Report every device `notManaged` to Microsoft before the data is removed (default false)',
    }),
});

export const TenantOffboardingSchema = z
  .object({
    operationId: z.string().openapi({ description: 'The offboarding operation (also the record kept of it)' }),
    tenantId: z.string(),
    state: z.literal('offboarding'),
  })
  .openapi('TenantOffboarding');

/** Microsoft's redirect after admin consent; it may add parameters of its own, which are ignored. */
export const ConsentCallbackQuerySchema = z.looseObject({
  state: z
    .string()
    .optional()
    .openapi({ param: { name: 'state', in: 'query' }, description: 'What the consent link carried' }),
  tenant: z
    .string()
    .optional()
    .openapi({ param: { name: 'tenant', in: 'query' }, description: 'The tenant that consented' }),
  admin_consent: z
    .string()
    .optional()
    .openapi({ param: { name: 'admin_consent', in: 'query' }, description: '`True` when consent was granted' }),
  error: z
    .string()
    .optional()
    .openapi({ param: { name: 'error', in: 'query' }, description: 'e.g. `access_denied` when the admin declined' }),
  error_description: z
    .string()
    .optional()
    .openapi({ param: { name: 'error_description', in: 'query' } }),
});

export const ConsentCallbackResultSchema = z
  .object({
    tenantId: z.string(),
    state: z.enum(TENANT_STATES),
    message: z.string().openapi({ description: 'What happened, in plain words (the customer admin reads it)' }),
  })
  .openapi('ConsentCallbackResult');
