/**
 * Schemas of the HTTP API. Event schemas are the domain's own (domain/event-schemas.ts), named here for
 * the OpenAPI document; everything else is what docs/http-contract.md fixes.
 */
import { z } from '@hono/zod-openapi';
import {
  CLIENT_STATUS_CODES,
  COMPLIANCE_STATUSES,
  MANAGEMENT_STATES,
  PLATFORMS,
  POLICY_ACTIONS,
  REPORTED_COMPLIANCE_VALUES,
  REPORT_TRIGGERS,
} from '../domain/constants';
import {
  batchEventsEnvelopeSchema,
  batchEventsSchema,
  clientStatusCodeSchema,
  deviceEventSchema,
  deviceIdSchema,
  inventorySchema,
} from '../domain/event-schemas';
import { GRACE_ACTIONS, graceProblem, type GracePeriods } from '../domain/grace';
import { FLEET_KINDS } from '../workflows/fleet-messages';
import { cronProblem } from '../domain/cron';
import { PROBLEM_KINDS, PROBLEM_TYPE_BASE } from './problems';

// ---------------------------------------------------------------------------------------------------
// Shared pieces

const isoTime = (description: string) => z.string().openapi({ format: 'date-time', description, example: '2026-11-28T10:00:02.120Z' });

export const FieldErrorSchema = z
  .object({
    path: z.string().openapi({
      description: 'The offending field, e.g. `actions[1]`, `inventory.deviceName`; `` for the whole value',
      example: 'actions[1]',
    }),
    message: z.string().openapi({ example: 'Must be one of RETIRE, QUARANTINE, BLOCK_APPCONNECT, BLOCK_EMAIL, SEND_ALERT' }),
  })
  .openapi('FieldError');

export const ProblemSchema = z
  .object({
    type: z.string().openapi({
      format: 'uri',
      description: `One of ${PROBLEM_KINDS.map((k) => `\`${PROBLEM_TYPE_BASE}${k}\``).join(', ')}`,
      example: `${PROBLEM_TYPE_BASE}validation`,
    }),
    title: z.string().openapi({ example: 'The request is invalid' }),
    status: z.number().int().openapi({ example: 400 }),
    detail: z.string().openapi({ example: 'Invalid request body' }),
    errors: z.array(FieldErrorSchema),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details (application/problem+json)' });

// Domain schemas may be built before @hono/zod-openapi extends zod (module load order), so they lack
// `.openapi()`: their documentation goes through zod's own `.meta()`, which the generator reads too.

export const DeviceIdParamSchema = z.object({
  deviceId: deviceIdSchema.meta({
    description: "The MDM's own device id: 1 to 128 characters of A-Z a-z 0-9 . _ : -",
    example: 'mdm-42',
  }),
});

/** A decimal integer query parameter within [min, max], `fallback` when absent. */
export const intQuery = (name: string, min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^[0-9]{1,6}$/, { error: `Must be an integer from ${min} to ${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(min, { error: `Must be an integer from ${min} to ${max}` })
        .max(max, { error: `Must be an integer from ${min} to ${max}` }),
    )
    .optional()
    .transform((v) => v ?? fallback)
    .openapi({
      param: { name, in: 'query' },
      type: 'integer',
      minimum: min,
      maximum: max,
      default: fallback,
      description: `${min} to ${max}, default ${fallback}`,
    });

// ---------------------------------------------------------------------------------------------------
// MDM events

export const DeviceEventSchema = deviceEventSchema.meta({
  id: 'DeviceEvent',
  description: 'One MDM event. Unknown fields are rejected.',
  example: {
    type: 'registration',
    occurredAt: '2026-11-28T10:00:00.000Z',
    platform: 'iOS',
    azureDeviceId: '007c8232-9489-4074-9b35-345b16f0a72d',
    clientStatusCode: 'Success',
    userPrincipalName: 'alex@contoso.com',
  },
});

/** What the batch route validates up front: the envelope only; each item is then validated on its own. */
export const BatchEventsEnvelopeSchema = batchEventsEnvelopeSchema;
/** What the OpenAPI document shows for the batch body: items fully described. */
export const BatchEventsSchema = batchEventsSchema.meta({
  id: 'BatchEvents',
  description: 'Up to 1,000 events, each with its `deviceId`. Each item is validated on its own.',
});

export const EventAcceptedSchema = z
  .object({ deviceId: z.string().openapi({ example: 'mdm-42' }), accepted: z.literal(true) })
  .openapi('EventAccepted');

export const BatchItemAcceptedSchema = z
  .object({ index: z.number().int(), deviceId: z.string(), status: z.literal('accepted') })
  .openapi('BatchItemAccepted');
export const BatchItemRejectedSchema = z
  .object({
    index: z.number().int(),
    deviceId: z.string().optional().openapi({ description: 'Present when the item carried a valid deviceId' }),
    status: z.literal('rejected'),
    error: ProblemSchema,
  })
  .openapi('BatchItemRejected');
export const BatchResultSchema = z
  .object({ results: z.array(z.union([BatchItemAcceptedSchema, BatchItemRejectedSchema])) })
  .openapi('BatchResult');

// ---------------------------------------------------------------------------------------------------
// Admin

/** A device's `lastError` (domain/client-status.ts `DeviceError`): from its client status code or its last failed report. */
export const DeviceErrorSchema = z
  .object({
    code: z.string(),
    message: z.string(),
    userCanMitigate: z.boolean(),
    remediation: z.string(),
  })
  .openapi('DeviceError');

export const DeviceDetailsSchema = z
  .object({
    deviceId: z.string().openapi({ example: 'mdm-42' }),
    platform: z.enum(PLATFORMS).nullable(),
    azureDeviceIdentifier: z
      .string()
      .nullable()
      .openapi({ format: 'uuid', description: 'Azure Device Identifier', example: '007c8232-9489-4074-9b35-345b16f0a72d' }),
    azureDeviceComplianceStatus: z
      .enum(COMPLIANCE_STATUSES)
      .nullable()
      .openapi({ description: 'Azure Device Compliance Status; null while the feature is disabled or nothing was ever received' }),
    azureClientStatusCode: z.enum(CLIENT_STATUS_CODES).nullable().openapi({ description: 'Azure Client Status Code' }),
    azureDeviceComplianceReportTime: isoTime(
      'Azure Device Compliance Report Time: when Microsoft confirmed the report of the current state; null while disabled, while a newer state is not yet reported, and after a failure',
    ).nullable(),
    policyAction: z.enum(POLICY_ACTIONS).nullable().openapi({ description: 'The most restrictive action in force; null for none' }),
    reportedCompliance: z.enum(REPORTED_COMPLIANCE_VALUES).nullable(),
    managementState: z.enum(MANAGEMENT_STATES).nullable(),
    lastAttemptAt: isoTime('Last report attempt (never blanked)').nullable(),
    lastSuccessfulReportAt: isoTime('Last report Microsoft confirmed (never blanked)').nullable(),
    lastError: DeviceErrorSchema.nullable(),
    retiredAt: isoTime('When the device was retired').nullable(),
    updatedAt: isoTime('Last change of this record'),
    graceUntil: isoTime(
      'While a restrictive action waits for its grace period (settings gracePeriods): when the grace ends; null unless in grace',
    ).nullable(),
    gracePendingAction: z
      .enum(POLICY_ACTIONS)
      .nullable()
      .openapi({ description: 'Extension: the action waiting for its grace period (reported when it ends); null unless in grace' }),
    userPrincipalName: z.string().nullable().openapi({ description: 'Extension: the user of the latest registration' }),
    inventory: inventorySchema.nullable().openapi({ description: 'Extension: the latest inventory' }),
  })
  .openapi('DeviceDetails');

export const DeviceListQuerySchema = z.strictObject({
  complianceStatus: z
    .enum(COMPLIANCE_STATUSES, { error: `Must be one of ${COMPLIANCE_STATUSES.join(', ')}` })
    .optional()
    .openapi({ param: { name: 'complianceStatus', in: 'query' } }),
  clientStatusCode: clientStatusCodeSchema.optional().openapi({ param: { name: 'clientStatusCode', in: 'query' } }),
  retired: z
    .enum(['true', 'false'], { error: 'Must be true or false' })
    .optional()
    .openapi({ param: { name: 'retired', in: 'query' } }),
  limit: intQuery('limit', 1, 500, 100),
  cursor: z
    .string()
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' }, description: 'The `nextCursor` of the previous page (opaque)' }),
});

export const DeviceListSchema = z
  .object({
    items: z.array(DeviceDetailsSchema),
    nextCursor: z.string().nullable().openapi({ description: 'null on the last page' }),
  })
  .openapi('DeviceList');

export const ReportsQuerySchema = z.strictObject({ limit: intQuery('limit', 1, 200, 50) });

export const ReportAttemptSchema = z
  .object({
    at: isoTime('When the attempt started'),
    trigger: z.enum(REPORT_TRIGGERS),
    reported: z.object({
      complianceStatus: z.enum(REPORTED_COMPLIANCE_VALUES),
      managementState: z.enum(MANAGEMENT_STATES),
    }),
    outcome: z.enum(COMPLIANCE_STATUSES),
    messageId: z.string().nullable(),
    error: z.record(z.string(), z.unknown()).nullable(),
    drift: z.record(z.string(), z.unknown()).nullable().optional().openapi({
      description:
        'Extension, trigger drift only: what the reconciliation found in Entra (operationId, azureDeviceId, observedAt, kinds, differences)',
    }),
    grace: z
      .object({
        phase: z.enum(['began', 'ended', 'cleared']),
        action: z.enum(POLICY_ACTIONS),
        until: isoTime('When the grace ends (ended)'),
      })
      .optional()
      .openapi({
        description:
          'Only on a row of trigger `grace`: a grace period began (Microsoft keeps the state reported before), ended (the action is reported) or was cleared (never reported); absent on a report attempt',
      }),
  })
  .openapi('ReportAttempt');

export const ReportListSchema = z.object({ items: z.array(ReportAttemptSchema) }).openapi('ReportAttempts');

export const SyncAcceptedSchema = EventAcceptedSchema;

export const SyncFilterSchema = z
  .strictObject(
    {
      complianceStatus: z.enum(COMPLIANCE_STATUSES, { error: `Must be one of ${COMPLIANCE_STATUSES.join(', ')}` }).optional(),
      clientStatusCode: clientStatusCodeSchema.optional(),
    },
    { error: 'Must be an object' },
  )
  .openapi('SyncFilter', { description: 'Optional: only devices matching every given field' });

export const OperationStartedSchema = z.object({ operationId: z.string() }).openapi('OperationStarted');

export const OperationIdParamSchema = z.object({
  operationId: z
    .string()
    .min(1)
    .max(256, { error: 'Must be at most 256 characters' })
    .openapi({ param: { name: 'operationId', in: 'path' } }),
});

export const OperationSchema = z
  .object({
    operationId: z.string(),
    kind: z.enum([...FLEET_KINDS, 'offboarding']).openapi({
      description:
        'Why the sweep runs: the weekly report, a bulk sync, the feature enabled, a resync Microsoft asked for; ' +
        "`offboarding` (operator only): a tenant's offboarding, devicesSignalled counting devices reported notManaged and devicesTotal those removed",
    }),
    startedAt: isoTime('Start'),
    finishedAt: isoTime('End; null while running').nullable(),
    devicesTotal: z.number().int().nullable(),
    devicesSignalled: z.number().int(),
    devicesSkipped: z.number().int().openapi({ description: 'Devices the operation passed over because their workflow was not running' }),
    drift: z
      .object({
        found: z
          .number()
          .int()
          .openapi({ description: 'Devices whose Entra state differed from the last confirmed report (deleted ones included)' }),
        deletedInEntra: z.number().int().openapi({ description: 'Devices Entra no longer has' }),
      })
      .nullable()
      .optional()
      .openapi({ description: 'Extension, kind reconcile only: what the device workflows found so far (their drift timeline rows)' }),
  })
  .openapi('Operation');

/** Grace periods per policy action: each an ISO 8601 duration of days to seconds, up to P30D. */
const gracePeriodsSchema = z
  .record(z.string(), z.unknown(), { error: 'Must be an object of ISO 8601 durations per policy action' })
  .superRefine((periods, ctx) => {
    for (const [action, duration] of Object.entries(periods)) {
      const why = graceProblem(action, duration);
      if (why !== null) ctx.addIssue({ code: 'custom', path: [action], message: why });
    }
  })
  .transform((periods) => periods as GracePeriods)
  .openapi({
    description: `Optional grace per policy action (${GRACE_ACTIONS.join(', ')}): how long the action waits before it is reported; {} (the default) for none`,
    example: { BLOCK_EMAIL: 'PT24H' },
  });

export const SettingsSchema = z
  .object({
    enabled: z.boolean(),
    weeklyReport: z.object({ paused: z.boolean() }),
    reconciliation: z
      .object({
        paused: z.boolean(),
        cron: z.string().nullable().openapi({ description: "The tenant's cron (UTC); null: the default, daily" }),
        effectiveCron: z
          .string()
          .openapi({ description: 'Read-only: the cron the reconciliation runs on (the default spreads tenants over the day)' }),
      })
      .openapi({ description: "The drift reconciliation: Entra read back and compared with each device's last confirmed report" }),
    gracePeriods: z.record(z.string(), z.string()).openapi({
      description: 'Grace per policy action (ISO 8601 durations); {} for none',
      example: { BLOCK_EMAIL: 'PT24H' },
    }),
    heartbeat: z
      .object({
        lastAt: isoTime('Last tenant heartbeat sent to Microsoft').nullable(),
        result: z.record(z.string(), z.unknown()).nullable(),
      })
      .openapi({ description: 'Extension (read-only): the last tenant heartbeat' }),
  })
  .openapi('Settings');

export const SettingsUpdateSchema = z
  .strictObject(
    {
      enabled: z.boolean({ error: 'Must be true or false' }).optional(),
      weeklyReport: z
        .strictObject({ paused: z.boolean({ error: 'Must be true or false' }).optional() }, { error: 'Must be an object' })
        .optional(),
      reconciliation: z
        .strictObject(
          {
            paused: z.boolean({ error: 'Must be true or false' }).optional(),
            cron: z
              .string({ error: 'Must be a cron expression or null' })
              .max(200, { error: 'Must be at most 200 characters' })
              .superRefine((value, ctx) => {
                const problem = cronProblem(value);
                if (problem) ctx.addIssue({ code: 'custom', message: `Must be a cron expression: ${problem}` });
              })
              .nullable()
              .optional()
              .openapi({ description: 'Five fields, UTC (e.g. "30 2 * * *"); null returns to the default' }),
            effectiveCron: z.unknown().optional().openapi({ description: 'Read-only (as answered by GET); ignored' }),
          },
          { error: 'Must be an object' },
        )
        .optional(),
      gracePeriods: gracePeriodsSchema.optional(),
      // What GET answers may be PUT back as it is: the read-only extension is accepted and ignored.
      heartbeat: z.unknown().optional().openapi({ description: 'Read-only (as answered by GET); ignored' }),
    },
    { error: 'Must be an object' },
  )
  .openapi('SettingsUpdate', { description: 'The settings, whole or in part; unknown fields are rejected' });

// ---------------------------------------------------------------------------------------------------
// Without auth: health, metrics, docs

export const HealthSchema = z.object({ status: z.literal('ok') }).openapi('Health');

const checkState = z.enum(['ok', 'failed']);
export const ReadinessSchema = z
  .object({
    status: z.enum(['ready', 'unavailable']),
    checks: z.object({ postgres: checkState, temporal: checkState }),
  })
  .openapi('Readiness');
