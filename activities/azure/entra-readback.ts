/**
 * Reading back what Entra holds for devices (the drift reconciliation): G1 `GET /devices?$filter=
 * deviceId eq '…'&$select=…` for each device, 20 to a Graph JSON batch (G7). Microsoft throttles each
 * sub-request on its own and the Graph client never retries inside a batch, so a sub-request answered
 * 429 (or 503/504 with Retry-After, or another 5xx) is sent again in a later batch of its own after the
 * delay it asked for; the others are done. See docs/microsoft-protocol.md, "Reading Entra back".
 */
import type { EntraDeviceState } from '../../domain/drift';
import { AzureApiError } from './errors';
import { answersById, itemHeader, type BatchRequestBody } from './graph-batch';
import { extractServiceError, nonEmptyString, parseRetryAfter, reasonForStatus } from './http-errors';

/** Graph's limit of requests in one JSON batch. */
export const MAX_BATCH_REQUESTS = 20;
export const READ_BACK_SELECT = ['deviceId', 'isCompliant', 'isManaged', 'complianceExpirationDateTime'] as const;
/** A sub-request failed without Retry-After (a 5xx): sent again after this long. */
const DEFAULT_SUB_RETRY_MS = 1_000;

/** The `$batch` body reading these Azure device ids; each request's id is its index in the list. */
export function readBackBatch(azureDeviceIds: readonly string[]): BatchRequestBody {
  if (azureDeviceIds.length === 0 || azureDeviceIds.length > MAX_BATCH_REQUESTS) {
    throw new RangeError(`a Graph batch holds 1 to ${MAX_BATCH_REQUESTS} requests, got ${azureDeviceIds.length}`);
  }
  return {
    requests: azureDeviceIds.map((id, i) => ({
      id: String(i),
      method: 'GET',
      // OData quotes doubled, then the query percent-encoded as Graph expects inside a batch.
      url: `/devices?$filter=${encodeURIComponent(`deviceId eq '${id.replace(/'/g, "''")}'`)}&$select=${READ_BACK_SELECT.join(',')}`,
    })),
  };
}

/** What one batch told: devices read (null: not in Entra), ones to send again after a delay, ones that failed for good. */
export interface ReadBackRound {
  observed: Map<string, EntraDeviceState | null>;
  retry: { ids: string[]; afterMs: number };
  failed: Array<{ azureDeviceId: string; status: number; message: string }>;
}

function boolOrNull(x: unknown): boolean | null {
  return typeof x === 'boolean' ? x : null;
}

function deviceState(body: unknown): EntraDeviceState | null {
  const value = (body as { value?: unknown } | null)?.value;
  const d = Array.isArray(value) ? (value[0] as Record<string, unknown> | undefined) : undefined;
  if (!d) return null;
  return {
    isCompliant: boolOrNull(d.isCompliant),
    isManaged: boolOrNull(d.isManaged),
    complianceExpirationDateTime: nonEmptyString(d.complianceExpirationDateTime),
  };
}

/**
 * Sorts a batch's answers (in any order, matched by id). A 403 on a sub-request throws: without
 * Device.Read.All nothing can be read, and the reconciliation must say so rather than skip everything.
 */
export function readBackResponses(azureDeviceIds: readonly string[], body: unknown): ReadBackRound {
  const round: ReadBackRound = { observed: new Map(), retry: { ids: [], afterMs: 0 }, failed: [] };
  const byId = answersById(body);
  azureDeviceIds.forEach((azureDeviceId, i) => {
    const r = byId.get(String(i));
    const status = typeof r?.status === 'number' ? r.status : 0;
    if (status === 200) {
      round.observed.set(azureDeviceId, deviceState(r!.body));
      return;
    }
    const retryAfterMs = parseRetryAfter(itemHeader(r?.headers, 'Retry-After'));
    const reason = status === 0 ? 'Transient' : reasonForStatus(status, retryAfterMs);
    if (reason === 'Throttled' || reason === 'Transient') {
      round.retry.ids.push(azureDeviceId);
      round.retry.afterMs = Math.max(round.retry.afterMs, retryAfterMs ?? DEFAULT_SUB_RETRY_MS);
      return;
    }
    const { code, message } = extractServiceError(r?.body);
    const text = `Graph answered ${status}${code ? ` ${code}` : ''} reading device ${azureDeviceId}${message ? `: ${message}` : ''}`;
    if (reason === 'Forbidden') {
      throw new AzureApiError({
        service: 'graph',
        reason,
        status,
        code,
        message: text,
        operation: 'readEntraDevices',
        deviceId: azureDeviceId,
      });
    }
    round.failed.push({ azureDeviceId, status, message: text });
  });
  return round;
}

export interface ReadBackResult {
  observed: Map<string, EntraDeviceState | null>;
  /** Not read: failed for good, or still throttled after every round. */
  unread: Array<{ azureDeviceId: string; reason: string }>;
  /** Sub-requests sent again after a 429 or 5xx. */
  resent: number;
}

/**
 * Reads the devices in batches of at most 20 (`send` is one batch), sending again, after the delay
 * they asked for, only the sub-requests that were throttled or failed on the way; `wait` also keeps
 * the caller's heartbeat going.
 */
export async function readBack(
  azureDeviceIds: readonly string[],
  send: (ids: string[]) => Promise<ReadBackRound>,
  wait: (ms: number) => Promise<void>,
  maxRounds = 6,
): Promise<ReadBackResult> {
  const result: ReadBackResult = { observed: new Map(), unread: [], resent: 0 };
  for (let start = 0; start < azureDeviceIds.length; start += MAX_BATCH_REQUESTS) {
    let pending = azureDeviceIds.slice(start, start + MAX_BATCH_REQUESTS);
    for (let round = 1; pending.length > 0; round++) {
      const r = await send(pending);
      for (const [id, state] of r.observed) result.observed.set(id, state);
      for (const f of r.failed) result.unread.push({ azureDeviceId: f.azureDeviceId, reason: f.message });
      pending = r.retry.ids;
      if (pending.length === 0) break;
      if (round >= maxRounds) {
        for (const id of pending) result.unread.push({ azureDeviceId: id, reason: `still throttled after ${maxRounds} batches` });
        break;
      }
      result.resent += pending.length;
      await wait(r.retry.afterMs);
    }
  }
  return result;
}
