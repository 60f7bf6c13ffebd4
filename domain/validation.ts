/**
 * Validation of MDM input with errors in the contract's form (api-contract.md §1): a list of
 * `{ path, message }` where `path` is `actions[1]`, `inventory.deviceName`, `occurredAt`, … and `''`
 * for the value as a whole. An unknown key gives one error per key whose path names the key
 * (`foo`, `inventory.imeii`). Nothing here throws on any input.
 *
 * Imports zod: not for workflow code.
 */
import type { z } from 'zod';
import type { BatchEventItem, DeviceEvent } from './events';
import { createEventSchemas, deviceIdSchema, eventSchemas, type EventSchemas } from './event-schemas';

export interface FieldError {
  path: string;
  message: string;
}

export type Invalid = { ok: false; errors: FieldError[] };
export type DeviceEventValidation = { ok: true; event: DeviceEvent } | Invalid;
export type DeviceIdValidation = { ok: true; deviceId: string } | Invalid;
export type BatchItemValidation = { ok: true; deviceId: string; event: DeviceEvent } | Invalid;
export type BatchValidation = { ok: true; items: Array<{ index: number } & BatchItemValidation> } | Invalid;

export interface ValidationOptions {
  /** Fix the clock of the "not more than 24 h in the future" rule (milliseconds since the epoch). */
  now?: number;
}

type Segment = PropertyKey;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `['inventory', 'deviceName']` → `inventory.deviceName`; `['actions', 1]` → `actions[1]`; `[]` → `''`. */
export function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key = String(segment);
      if (IDENTIFIER.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/**
 * Zod issues → the contract's `errors`. Unknown keys become one error per key naming it;
 * `basePath` is prefixed to every path (e.g. `['events', 3]` for a batch item).
 */
export function formatZodIssues(issues: readonly z.core.$ZodIssue[], basePath: readonly Segment[] = []): FieldError[] {
  // Zod 4 still runs length checks after a wrong type when the input has a `length` (a string given
  // for an array): keep only the type error at such a path.
  const wrongType = new Set(issues.filter((i) => i.code === 'invalid_type').map((i) => formatPath(i.path)));
  const errors: FieldError[] = [];
  for (const issue of issues) {
    if (issue.code !== 'invalid_type' && issue.code !== 'unrecognized_keys' && wrongType.has(formatPath(issue.path))) continue;
    const path = [...basePath, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        errors.push({ path: formatPath([...path, key]), message: `Unknown field "${key}"` });
      }
    } else {
      errors.push({ path: formatPath(path), message: issue.message });
    }
  }
  return errors;
}

let fixedClock: { now: number; schemas: EventSchemas } | undefined;

function schemasFor(options: ValidationOptions | undefined): EventSchemas {
  const now = options?.now;
  if (now === undefined) return eventSchemas;
  if (fixedClock?.now !== now) fixedClock = { now, schemas: createEventSchemas({ now: () => now }) };
  return fixedClock.schemas;
}

/** One event of `POST /v1/devices/{deviceId}/events`. */
export function validateDeviceEvent(input: unknown, options?: ValidationOptions): DeviceEventValidation {
  const result = schemasFor(options).deviceEventSchema.safeParse(input);
  if (result.success) return { ok: true, event: result.data };
  return { ok: false, errors: formatZodIssues(result.error.issues) };
}

/** A `deviceId` (path parameter or batch field): errors carry the path `deviceId`. */
export function validateDeviceId(id: unknown): DeviceIdValidation {
  const result = deviceIdSchema.safeParse(id);
  if (result.success) return { ok: true, deviceId: result.data };
  return { ok: false, errors: formatZodIssues(result.error.issues, ['deviceId']) };
}

function splitItem(item: BatchEventItem): { deviceId: string; event: DeviceEvent } {
  const { deviceId, ...event } = item;
  return { deviceId, event: event as DeviceEvent };
}

/** One item of `POST /v1/events` (an event plus `deviceId`); `basePath` prefixes the error paths. */
export function validateBatchEventItem(
  input: unknown,
  options?: ValidationOptions & { basePath?: readonly Segment[] },
): BatchItemValidation {
  const result = schemasFor(options).batchEventItemSchema.safeParse(input);
  if (result.success) return { ok: true, ...splitItem(result.data) };
  return { ok: false, errors: formatZodIssues(result.error.issues, options?.basePath ?? []) };
}

/**
 * `POST /v1/events`: the envelope must be `{ events: [1..1000 items] }` (else `ok: false`); then
 * each item is validated on its own, with error paths relative to the item (`actions[1]`), so valid
 * items can be accepted while others are rejected.
 */
export function validateBatchEvents(input: unknown, options?: ValidationOptions): BatchValidation {
  const schemas = schemasFor(options);
  const envelope = schemas.batchEventsEnvelopeSchema.safeParse(input);
  if (!envelope.success) return { ok: false, errors: formatZodIssues(envelope.error.issues) };
  const items = envelope.data.events.map((item, index) => {
    const result = schemas.batchEventItemSchema.safeParse(item);
    const validation: BatchItemValidation = result.success
      ? { ok: true, ...splitItem(result.data) }
      : { ok: false, errors: formatZodIssues(result.error.issues) };
    return { index, ...validation };
  });
  return { ok: true, items };
}
