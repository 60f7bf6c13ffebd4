/**
 * Graph JSON batching (G7) as both of our batches use it (the drift read-back, a new device's
 * lookups): the body we send, and the answer's items matched by id (Graph answers them in any order).
 */

export interface BatchRequestBody {
  requests: Array<{ id: string; method: 'GET'; url: string }>;
}

/** One item of a batch's answer, as Graph sends it (nothing trusted). */
export interface BatchItemAnswer {
  id?: unknown;
  status?: unknown;
  headers?: unknown;
  body?: unknown;
}

/** The answer's items by their id; a body without `responses` gives none. */
export function answersById(body: unknown): Map<string, BatchItemAnswer> {
  const byId = new Map<string, BatchItemAnswer>();
  const responses = (body as { responses?: unknown } | null)?.responses;
  if (Array.isArray(responses)) for (const r of responses as BatchItemAnswer[]) byId.set(String(r.id), r);
  return byId;
}

/** A header of an item's answer, by name in any case. */
export function itemHeader(headers: unknown, name: string): string | null {
  if (!headers || typeof headers !== 'object') return null;
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) if (k.toLowerCase() === name.toLowerCase()) return String(v);
  return null;
}
