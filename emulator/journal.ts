// The request journal: what reached the emulator and what it answered, for test assertions.
// Secrets in token requests are redacted before anything is stored.
import { safeDecode } from './http';
import type { JournalEntry, JournalFilter, Service } from './types';

const MAX_ENTRIES = 10_000;
const REDACTED_FIELDS = new Set(['client_secret', 'client_assertion']);

interface Slot {
  entry: JournalEntry;
  done: boolean;
}

/** Form fields for urlencoded bodies, parsed JSON otherwise, the raw text as a last resort. */
export function journalBody(rawBody: string, contentType: string | undefined): unknown {
  if (rawBody === '') return undefined;
  if ((contentType ?? '').includes('application/x-www-form-urlencoded')) {
    const fields: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(rawBody)) fields[k] = REDACTED_FIELDS.has(k) ? '[redacted]' : v;
    return fields;
  }
  try {
    return JSON.parse(rawBody) as unknown;
  } catch {
    return rawBody.length > 2000 ? `${rawBody.slice(0, 2000)}…` : rawBody;
  }
}

/**
 * The tenant a request is for, to journal it per tenant: the bearer token's `tid` for Graph and
 * Intune (read, not verified: the handler verifies), the path's tenant for the identity platform.
 */
export function requestTenant(service: Service, pathname: string, authorization: string | undefined): string | undefined {
  if (service === 'token' || service === 'identity') {
    const first = pathname.split('/').filter(Boolean)[0]?.toLowerCase();
    return first && !['common', 'organizations', 'consumers'].includes(first) ? first : undefined;
  }
  const token = /^Bearer\s+([^.\s]+)\.([^.\s]+)\./i.exec(authorization ?? '');
  if (!token) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(token[2]!, 'base64url').toString('utf8')) as { tid?: unknown };
    return typeof claims.tid === 'string' ? claims.tid.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

export class Journal {
  private slots: Slot[] = [];

  /** Reserved on receipt so entries stay in arrival order even when responses are delayed. */
  begin(entry: Omit<JournalEntry, 'status'>): (status: number, faulted: boolean) => void {
    const slot: Slot = { entry: { ...entry, status: 0 }, done: false };
    this.slots.push(slot);
    if (this.slots.length > MAX_ENTRIES) this.slots.splice(0, this.slots.length - MAX_ENTRIES);
    return (status, faulted) => {
      slot.entry.status = status;
      if (faulted) slot.entry.faulted = true;
      slot.done = true;
    };
  }

  /** Completed requests only (an in-flight one has no status yet); pathIncludes also matches the decoded path. */
  list(filter: JournalFilter = {}): JournalEntry[] {
    const since = filter.since !== undefined ? Date.parse(filter.since) : undefined;
    return this.slots
      .filter((s) => s.done)
      .map((s) => s.entry)
      .filter((e) => filter.service === undefined || e.service === (filter.service as Service))
      .filter(
        (e) =>
          filter.pathIncludes === undefined || e.path.includes(filter.pathIncludes) || safeDecode(e.path).includes(filter.pathIncludes),
      )
      .filter((e) => since === undefined || Date.parse(e.at) >= since)
      .filter((e) => filter.tenantId === undefined || e.tenantId === filter.tenantId.toLowerCase());
  }

  clear(): void {
    this.slots = [];
  }
}
