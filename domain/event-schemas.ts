/**
 * Zod schemas of the MDM's events (docs/http-contract.md). Used by the API (and its OpenAPI
 * document); NOT imported by workflow code — workflows use the plain types of `events.ts`.
 *
 * Every object is strict: unknown keys are rejected. No transforms: what is accepted is returned
 * unchanged, so input and output types are the same.
 */
import { z } from 'zod';
import {
  CLIENT_STATUS_CODES,
  DEVICE_ID_MAX_LENGTH,
  EVENT_TYPES,
  MAX_BATCH_EVENTS,
  OWNERSHIPS,
  PLATFORMS,
  POLICY_ACTIONS,
} from './constants';
import type * as Plain from './events';

/** Longest accepted free-text value (inventory fields, userPrincipalName). */
export const MAX_TEXT_LENGTH = 256;
/** `actions` holds at most this many entries (the five actions; duplicates are allowed). */
export const MAX_ACTIONS = 5;
/** Longest `occurredAt`: an ISO 8601 date-time with nanoseconds and an offset is 35 characters. */
export const MAX_OCCURRED_AT_LENGTH = 64;
/** A GUID is exactly this long. */
const GUID_LENGTH = 36;

const isMissing = (input: unknown): boolean => input === undefined;

/** Error message "Required" for a missing value, else `message`. */
function required(message: string) {
  return (issue: { input?: unknown }) => (isMissing(issue.input) ? 'Required' : message);
}

const oneOf = (values: readonly string[]) => `Must be one of ${values.join(', ')}`;

export interface BoundedStringOptions {
  max: number;
  min?: number;
  /** Message of a wrong type (default "Must be a string"). */
  typeMessage?: string;
  /** Message of a value over `max` (default "Must be at most <max> characters"). */
  maxMessage?: string;
  /** Checked only on a value within [min, max]. */
  pattern?: { regex: RegExp; message: string } | { format: z.core.$ZodCheck<string> };
}

/**
 * A string whose length is checked before anything else, and whose other checks are skipped when the
 * length is wrong: zod runs every check of a field even after `.max()` fails unless the check aborts,
 * so without this a pattern would run on a value of any length (a request body holds up to 1 MiB).
 * Every pattern of an MDM field goes through here, so none ever runs on more than its field's maximum.
 */
export function boundedString(o: BoundedStringOptions) {
  const typeMessage = o.typeMessage ?? 'Must be a string';
  const maxMessage = o.maxMessage ?? `Must be at most ${o.max} characters`;
  let schema = z
    .string({ error: required(typeMessage) })
    // zod counts characters (code points) with a scan of the whole value: refuse what is certainly too
    // long (more than two UTF-16 units per allowed character) before it does.
    .refine((value) => value.length <= 2 * o.max, { error: maxMessage, abort: true })
    .max(o.max, { error: maxMessage, abort: true });
  if (o.min !== undefined && o.min > 0) {
    schema = schema.min(o.min, { error: o.min === 1 ? 'Must not be empty' : `Must be at least ${o.min} characters`, abort: true });
  }
  if (o.pattern === undefined) return schema;
  return 'regex' in o.pattern ? schema.regex(o.pattern.regex, { error: o.pattern.message, abort: true }) : schema.check(o.pattern.format);
}

// Patterns: anchored, and no two ways to match the same text (no nested quantifiers, no quantified
// parts whose characters overlap what follows them), so a failing match costs one pass over the value.

export const deviceIdSchema = boundedString({
  min: 1,
  max: DEVICE_ID_MAX_LENGTH,
  pattern: { regex: /^[A-Za-z0-9._:-]+$/, message: 'May contain only the characters A-Z a-z 0-9 . _ : -' },
});

export const platformSchema = z.enum(PLATFORMS, { error: required(oneOf(PLATFORMS)) });
export const clientStatusCodeSchema = z.enum(CLIENT_STATUS_CODES, { error: required(oneOf(CLIENT_STATUS_CODES)) });
export const policyActionSchema = z.enum(POLICY_ACTIONS, { error: required(oneOf(POLICY_ACTIONS)) });
export const ownershipSchema = z.enum(OWNERSHIPS, { error: required(oneOf(OWNERSHIPS)) });

const GUID_MESSAGE = 'Must be a GUID (e.g. 007c8232-9489-4074-9b35-345b16f0a72d) or null';
/** A GUID such as `007c8232-9489-4074-9b35-345b16f0a72d` (either case), or `null`. */
export const azureDeviceIdSchema = boundedString({
  max: GUID_LENGTH,
  typeMessage: GUID_MESSAGE,
  maxMessage: GUID_MESSAGE,
  pattern: { format: z.guid({ error: GUID_MESSAGE, abort: true }) },
}).nullable();

/**
 * Loosely email-shaped (UPNs of guests contain `#EXT#`, which strict email rules reject): something,
 * `@`, then dot-separated labels (at least two). The labels exclude the dot, so the split is unique.
 */
export const userPrincipalNameSchema = boundedString({
  max: MAX_TEXT_LENGTH,
  pattern: { regex: /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/, message: 'Must be a user principal name such as alex@contoso.com' },
});

const text = (opts: { nonEmpty: boolean }) => boundedString({ max: MAX_TEXT_LENGTH, min: opts.nonEmpty ? 1 : 0 });

export const inventorySchema = z.strictObject(
  {
    deviceName: text({ nonEmpty: true }),
    os: text({ nonEmpty: true }),
    osVersion: text({ nonEmpty: true }),
    model: text({ nonEmpty: false }).optional(),
    manufacturer: text({ nonEmpty: false }).optional(),
    serialNumber: text({ nonEmpty: false }).optional(),
    imei: text({ nonEmpty: false }).optional(),
    ownership: ownershipSchema.optional(),
  },
  { error: required('Must be an object') },
);

const OCCURRED_AT_MESSAGE = 'Must be an ISO 8601 date-time with a zone (Z or ±hh:mm), e.g. 2026-11-28T10:00:00.000Z';

/**
 * The shape of `occurredAt`. How far ahead of the server's clock it may be is not checked here (that
 * needs the clock and MAX_CLOCK_SKEW): domain/validation.ts applies it with both passed in.
 */
export const occurredAtSchema = boundedString({
  max: MAX_OCCURRED_AT_LENGTH,
  typeMessage: OCCURRED_AT_MESSAGE,
  maxMessage: OCCURRED_AT_MESSAGE,
  // A malformed value gets one error, not also that of the check below.
  pattern: { format: z.iso.datetime({ offset: true, abort: true, error: OCCURRED_AT_MESSAGE }) },
}).refine((value) => !Number.isNaN(Date.parse(value)), { error: 'Must be a valid date-time' });

/** Builds every event schema (shape only: the clock rule is domain/validation.ts's). */
function createEventSchemas() {
  const typeLiteral = <T extends Plain.DeviceEvent['type']>(type: T) => z.literal(type, { error: `Must be "${type}"` });

  const registrationShape = {
    type: typeLiteral('registration'),
    occurredAt: occurredAtSchema,
    platform: platformSchema,
    azureDeviceId: azureDeviceIdSchema,
    clientStatusCode: clientStatusCodeSchema,
    userPrincipalName: userPrincipalNameSchema.optional(),
  };
  const complianceShape = {
    type: typeLiteral('compliance'),
    occurredAt: occurredAtSchema,
    actions: z
      .array(policyActionSchema, { error: required('Must be an array of actions') })
      .max(MAX_ACTIONS, { error: `Must hold at most ${MAX_ACTIONS} actions`, abort: true }),
  };
  const inventoryShape = {
    type: typeLiteral('inventory'),
    occurredAt: occurredAtSchema,
    inventory: inventorySchema,
  };
  const retireShape = {
    type: typeLiteral('retire'),
    occurredAt: occurredAtSchema,
  };

  const objectError = { error: required('Must be an object') };

  /** `azureDeviceId` must be a GUID when `clientStatusCode` is `Success`. */
  const requireGuidOnSuccess = (value: { azureDeviceId: string | null; clientStatusCode: string }, ctx: z.RefinementCtx) => {
    if (value.clientStatusCode === 'Success' && value.azureDeviceId === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['azureDeviceId'],
        message: 'Must be a GUID when clientStatusCode is Success',
      });
    }
  };

  const registrationEventSchema = z.strictObject(registrationShape, objectError).superRefine(requireGuidOnSuccess);
  const complianceEventSchema = z.strictObject(complianceShape, objectError);
  const inventoryEventSchema = z.strictObject(inventoryShape, objectError);
  const retireEventSchema = z.strictObject(retireShape, objectError);

  const discriminatorError = {
    error: (issue: { input?: unknown }) =>
      issue.input !== null && typeof issue.input === 'object' && !Array.isArray(issue.input)
        ? `type must be one of ${EVENT_TYPES.join(', ')}`
        : 'Must be an object',
  };

  const deviceEventSchema = z.discriminatedUnion(
    'type',
    [registrationEventSchema, complianceEventSchema, inventoryEventSchema, retireEventSchema],
    discriminatorError,
  );

  const withDeviceId = { deviceId: deviceIdSchema };
  const batchEventItemSchema = z.discriminatedUnion(
    'type',
    [
      z.strictObject({ ...withDeviceId, ...registrationShape }, objectError).superRefine(requireGuidOnSuccess),
      z.strictObject({ ...withDeviceId, ...complianceShape }, objectError),
      z.strictObject({ ...withDeviceId, ...inventoryShape }, objectError),
      z.strictObject({ ...withDeviceId, ...retireShape }, objectError),
    ],
    discriminatorError,
  );

  // `abort`: a too long array is refused before any of its items is looked at.
  const eventsArray = <T extends z.ZodType>(item: T) =>
    z
      .array(item, { error: required('Must be an array of events') })
      .min(1, { error: 'Must hold at least 1 event' })
      .max(MAX_BATCH_EVENTS, { error: `Must hold at most ${MAX_BATCH_EVENTS} events`, abort: true });

  /** `POST /v1/events` body with every item validated. */
  const batchEventsSchema = z.strictObject({ events: eventsArray(batchEventItemSchema) }, objectError);
  /**
   * `POST /v1/events` envelope only (items unchecked), for the API's per-item acceptance: valid items
   * are accepted even when others are rejected.
   */
  const batchEventsEnvelopeSchema = z.strictObject({ events: eventsArray(z.unknown()) }, objectError);

  return {
    registrationEventSchema,
    complianceEventSchema,
    inventoryEventSchema,
    retireEventSchema,
    deviceEventSchema,
    batchEventItemSchema,
    batchEventsSchema,
    batchEventsEnvelopeSchema,
  };
}

export type EventSchemas = ReturnType<typeof createEventSchemas>;

export const eventSchemas: EventSchemas = createEventSchemas();
export const {
  registrationEventSchema,
  complianceEventSchema,
  inventoryEventSchema,
  retireEventSchema,
  deviceEventSchema,
  batchEventItemSchema,
  batchEventsSchema,
  batchEventsEnvelopeSchema,
} = eventSchemas;

export type RegistrationEvent = z.infer<typeof registrationEventSchema>;
export type ComplianceEvent = z.infer<typeof complianceEventSchema>;
export type InventoryEvent = z.infer<typeof inventoryEventSchema>;
export type RetireEvent = z.infer<typeof retireEventSchema>;
export type Inventory = z.infer<typeof inventorySchema>;
export type DeviceEvent = z.infer<typeof deviceEventSchema>;
export type BatchEventItem = z.infer<typeof batchEventItemSchema>;
export type BatchEvents = z.infer<typeof batchEventsSchema>;

// Compile-time proof that the zod-inferred types are exactly the plain ones of events.ts.
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type MutuallyAssignable<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type _EventTypesMatch = [
  Assert<Equals<RegistrationEvent, Plain.RegistrationEvent>>,
  Assert<Equals<ComplianceEvent, Plain.ComplianceEvent>>,
  Assert<Equals<InventoryEvent, Plain.InventoryEvent>>,
  Assert<Equals<RetireEvent, Plain.RetireEvent>>,
  Assert<Equals<Inventory, Plain.Inventory>>,
  Assert<Equals<DeviceEvent, Plain.DeviceEvent>>,
  Assert<MutuallyAssignable<BatchEventItem, Plain.BatchEventItem>>,
];
