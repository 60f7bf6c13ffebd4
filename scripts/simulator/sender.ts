/**
 * Sends MDM events to the public API: one event through `POST /v1/devices/{id}/events`, several
 * through `POST /v1/events` (≤ 1,000 per request), and tells, per event, what became of it.
 */
import type { BatchEventItem } from '../../domain/events';
import type { HttpClient } from './http';

export type Outcome =
  | { status: 'accepted' }
  /** The API refused the event (4xx, or a rejected item of a batch): `reason` is the problem type's last segment. */
  | { status: 'rejected'; reason: string }
  /** No answer, a 5xx, or a 503 for the item: the event may have to be sent again. */
  | { status: 'error'; reason: string };

export interface SendResult {
  outcomes: Outcome[];
  /** Time the HTTP request took, ms. */
  ms: number;
  route: 'single' | 'batch';
}

function problemReason(text: string, status: number): string {
  try {
    const p = JSON.parse(text) as { type?: unknown };
    if (typeof p.type === 'string') return p.type.split('/').pop() || String(status);
  } catch {
    // not a problem document
  }
  return `http-${status}`;
}

function itemReason(error: unknown, fallback: string): string {
  const type = (error as { type?: unknown } | undefined)?.type;
  return typeof type === 'string' ? type.split('/').pop() || fallback : fallback;
}

export function createSender(http: HttpClient, key: string, opts: { timeoutMs?: number } = {}) {
  const headers = { Authorization: `Bearer ${key}` };
  const timeoutMs = opts.timeoutMs ?? 30_000;

  async function single(item: BatchEventItem): Promise<SendResult> {
    const { deviceId, ...event } = item;
    try {
      const r = await http.request('POST', `/v1/devices/${encodeURIComponent(deviceId)}/events`, { body: event, headers, timeoutMs });
      const outcome: Outcome =
        r.status === 202
          ? { status: 'accepted' }
          : r.status >= 500 || r.status === 429
            ? { status: 'error', reason: problemReason(r.text, r.status) }
            : { status: 'rejected', reason: problemReason(r.text, r.status) };
      return { outcomes: [outcome], ms: r.ms, route: 'single' };
    } catch (err) {
      return { outcomes: [{ status: 'error', reason: (err as Error).message }], ms: NaN, route: 'single' };
    }
  }

  async function batch(items: BatchEventItem[]): Promise<SendResult> {
    try {
      const r = await http.request('POST', '/v1/events', { body: { events: items }, headers, timeoutMs });
      if (r.status !== 202) {
        const reason = problemReason(r.text, r.status);
        const o: Outcome = r.status >= 500 || r.status === 429 ? { status: 'error', reason } : { status: 'rejected', reason };
        return { outcomes: items.map(() => o), ms: r.ms, route: 'batch' };
      }
      const body = JSON.parse(r.text) as { results: Array<{ index: number; status: string; error?: { status?: number } }> };
      const outcomes: Outcome[] = items.map(() => ({ status: 'error', reason: 'missing-result' }));
      for (const res of body.results) {
        if (res.status === 'accepted') outcomes[res.index] = { status: 'accepted' };
        else {
          const reason = itemReason(res.error, 'rejected');
          outcomes[res.index] = (res.error?.status ?? 400) >= 500 ? { status: 'error', reason } : { status: 'rejected', reason };
        }
      }
      return { outcomes, ms: r.ms, route: 'batch' };
    } catch (err) {
      return { outcomes: items.map(() => ({ status: 'error' as const, reason: (err as Error).message })), ms: NaN, route: 'batch' };
    }
  }

  return {
    /** One event: the single-event route unless `forceBatch`; several: the batch route. */
    send(items: BatchEventItem[], forceBatch = false): Promise<SendResult> {
      return items.length === 1 && !forceBatch ? single(items[0]!) : batch(items);
    },
  };
}

export type Sender = ReturnType<typeof createSender>;
