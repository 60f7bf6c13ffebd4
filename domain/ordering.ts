/**
 * Event ordering by `occurredAt`, per event kind (docs/product-rules.md).
 *
 * Rule: an event is **stale** when its `occurredAt` is strictly older than the newest `occurredAt`
 * already applied for the same kind. An equal instant is not stale: it is applied, so among events
 * with the same instant the one that arrives last wins. Kinds are independent of each other.
 *
 * Instants are compared, not strings (`2026-11-28T10:00:00Z` equals `2026-11-28T11:00:00+01:00`),
 * at millisecond precision (digits beyond the millisecond are ignored by `Date.parse`). Only
 * `Date.parse` is used, which is deterministic, so this is safe in workflow code.
 */

export type EventKind = 'registration' | 'compliance' | 'inventory' | 'retire';

/** The newest `occurredAt` applied per kind. Plain JSON, survives continue-as-new. */
export type LastApplied = Partial<Record<EventKind, string>>;

/** Milliseconds since the epoch, or `NaN` when the string does not parse. */
export function occurredAtMillis(occurredAt: string): number {
  return Date.parse(occurredAt);
}

/**
 * Negative when `a` is earlier than `b`, `0` for the same instant, positive when later.
 * An unparsable time sorts before every parsable one (two unparsable ones compare equal).
 */
export function compareOccurredAt(a: string, b: string): number {
  const ma = occurredAtMillis(a);
  const mb = occurredAtMillis(b);
  const na = Number.isNaN(ma);
  const nb = Number.isNaN(mb);
  if (na || nb) return na && nb ? 0 : na ? -1 : 1;
  return ma === mb ? 0 : ma < mb ? -1 : 1;
}

/**
 * `true` when an event of `kind` that occurred at `occurredAt` must be ignored because a newer event
 * of the same kind was already applied. Nothing applied yet for the kind → not stale.
 * An unparsable `occurredAt` (validation prevents it) is stale, so it is never applied; an
 * unparsable stored value never makes a valid event stale.
 */
export function isStale(lastApplied: LastApplied, kind: EventKind, occurredAt: string): boolean {
  const incoming = occurredAtMillis(occurredAt);
  if (Number.isNaN(incoming)) return true;
  const previous = lastApplied[kind];
  if (previous === undefined) return false;
  const newest = occurredAtMillis(previous);
  if (Number.isNaN(newest)) return false;
  return incoming < newest;
}

/**
 * A new `LastApplied` recording that an event of `kind` at `occurredAt` was applied; keeps the
 * newer of the stored and the given instant. Does not mutate its argument.
 */
export function recordApplied(lastApplied: LastApplied, kind: EventKind, occurredAt: string): LastApplied {
  const previous = lastApplied[kind];
  if (previous !== undefined && compareOccurredAt(occurredAt, previous) < 0) return { ...lastApplied };
  return { ...lastApplied, [kind]: occurredAt };
}

/**
 * The bounds of a device's lifecycles that ordering needs beyond the newest time per kind: the retire
 * that closed the previous lifecycle and the registration that opened the current one. Ordering holds
 * per device across lifecycles (docs/product-rules.md, "Never more permissive than the MDM"): an event
 * older than the retire that closed a lifecycle is stale, and so is a retire older than the
 * re-registration that opened the current lifecycle.
 */
export interface LifecycleBounds {
  closedAt?: string | null;
  openedAt?: string | null;
}

/**
 * `true` when an event must be ignored: older than the newest applied of its kind, older than the
 * retire that closed the previous lifecycle, or — for a retire (a `retire` event or a compliance event
 * carrying RETIRE) — older than the registration that opened the current lifecycle.
 */
export function isStaleInLifecycle(
  lastApplied: LastApplied,
  bounds: LifecycleBounds,
  event: { type: EventKind; occurredAt: string; actions?: readonly string[] },
): boolean {
  if (isStale(lastApplied, event.type, event.occurredAt)) return true;
  const olderThan = (bound: string | null | undefined) => bound != null && compareOccurredAt(event.occurredAt, bound) < 0;
  if (olderThan(bounds.closedAt)) return true;
  const isRetire = event.type === 'retire' || (event.type === 'compliance' && (event.actions ?? []).includes('RETIRE'));
  return isRetire && olderThan(bounds.openedAt);
}
