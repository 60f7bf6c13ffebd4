/**
 * Validation of MDM input with errors in the contract's form (docs/http-contract.md): a list of
 * `{ path, message }` where `path` is `actions[1]`, `inventory.deviceName`, `occurredAt`, … and `''`
 * for the value as a whole. An unknown key gives one error per key whose path names the key
 * (`foo`, `inventory.imeii`). Nothing here throws on any input.
 *
 * Imports zod: not for workflow code.
 */
import type { z } from 'zod';
import { DEFAULT_MAX_CLOCK_SKEW_MS } from './constants';
import type { BatchEventItem, DeviceEvent } from './events';
import { MAX_TEXT_LENGTH, deviceIdSchema, eventSchemas, occurredAtSchema } from './event-schemas';

export interface FieldError {
  path: string;
  message: string;
}

export type Invalid = { ok: false; errors: FieldError[] };
export type DeviceEventValidation = { ok: true; event: DeviceEvent } | Invalid;
export type DeviceIdValidation = { ok: true; deviceId: string } | Invalid;
export type BatchItemValidation = { ok: true; deviceId: string; event: DeviceEvent } | Invalid;
export type BatchValidation = { ok: true; items: Array<{ index: number } & BatchItemValidation> } | Invalid;

/**
 * The clock rule: an `occurredAt` more than `maxClockSkewMs` ahead of `now` is refused (a future-dated
 * event would make every correctly timed one after it look stale). The API passes the server's clock
 * and MAX_CLOCK_SKEW; the defaults (the real clock, 5 minutes) are for callers without a config.
 */
export interface ValidationOptions {
  /** Milliseconds since the epoch. */
  now?: number;
  maxClockSkewMs?: number;
}

type Segment = PropertyKey;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** An unknown key is named in an error by its first this many characters (it may be 1 MiB long). */
const MAX_KEY_SHOWN = MAX_TEXT_LENGTH;

function shownKey(key: string): string {
  return key.length > MAX_KEY_SHOWN ? `${key.slice(0, MAX_KEY_SHOWN)}… (${key.length} characters)` : key;
}

/** `['inventory', 'deviceName']` → `inventory.deviceName`; `['actions', 1]` → `actions[1]`; `[]` → `''`. */
export function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key = shownKey(String(segment));
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
        errors.push({ path: formatPath([...path, key]), message: `Unknown field "${shownKey(key)}"` });
      }
    } else {
      errors.push({ path: formatPath(path), message: issue.message });
    }
  }
  return errors;
}

function describeDuration(ms: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1_000, 'second'],
  ];
  for (const [size, name] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${name}${ms === size ? '' : 's'}`;
  }
  return `${ms} ms`;
}

/** The clock rule on a well-formed `occurredAt`: `[]`, or the one error naming `occurredAt`. */
export function occurredAtErrors(occurredAt: string, options: ValidationOptions = {}): FieldError[] {
  const now = options.now ?? Date.now();
  const skew = options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  if (Date.parse(occurredAt) <= now + skew) return [];
  return [
    {
      path: 'occurredAt',
      message: `Must not be more than ${describeDuration(skew)} ahead of the server's clock (check the clock of the MDM server)`,
    },
  ];
}

/** The clock rule on raw input whose `occurredAt` is well formed (a malformed one has its own error). */
function clockErrors(input: unknown, options: ValidationOptions | undefined): FieldError[] {
  if (input === null || typeof input !== 'object') return [];
  const occurredAt = (input as { occurredAt?: unknown }).occurredAt;
  if (!occurredAtSchema.safeParse(occurredAt).success) return [];
  return occurredAtErrors(occurredAt as string, options);
}

/** One event of `POST /v1/devices/{deviceId}/events`. */
export function validateDeviceEvent(input: unknown, options?: ValidationOptions): DeviceEventValidation {
  const result = eventSchemas.deviceEventSchema.safeParse(input);
  const errors = [...(result.success ? [] : formatZodIssues(result.error.issues)), ...clockErrors(input, options)];
  if (result.success && errors.length === 0) return { ok: true, event: result.data };
  return { ok: false, errors };
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
  const basePath = options?.basePath ?? [];
  const result = eventSchemas.batchEventItemSchema.safeParse(input);
  const late = clockErrors(input, options).map((e) => ({ ...e, path: formatPath([...basePath, e.path]) }));
  const errors = [...(result.success ? [] : formatZodIssues(result.error.issues, basePath)), ...late];
  if (result.success && errors.length === 0) return { ok: true, ...splitItem(result.data) };
  return { ok: false, errors };
}

/**
 * `POST /v1/events`: the envelope must be `{ events: [1..1000 items] }` (else `ok: false`); then
 * each item is validated on its own, with error paths relative to the item (`actions[1]`), so valid
 * items can be accepted while others are rejected.
 */
export function validateBatchEvents(input: unknown, options?: ValidationOptions): BatchValidation {
  const envelope = eventSchemas.batchEventsEnvelopeSchema.safeParse(input);
  if (!envelope.success) return { ok: false, errors: formatZodIssues(envelope.error.issues) };
  // One clock for the whole batch.
  const clock: ValidationOptions = { now: options?.now ?? Date.now(), maxClockSkewMs: options?.maxClockSkewMs };
  const items = envelope.data.events.map((item, index) => ({ index, ...validateBatchEventItem(item, clock) }));
  return { ok: true, items };
}
