// JSON batching (G7, at most 20 requests): validates the envelope, runs items in dependsOn order through the
// normal Graph routes, applies per-item faults, and returns the responses in a different order
// than requested so a client that relies on position fails visibly.
import type { FaultRegistry } from './faults';
import { faultResponse } from './faults';
import { graphError, header, isRecord, json, newId, parseJson, type EmuRequest, type EmuResponse } from './http';

const MAX_REQUESTS = 20;

interface BatchItem {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  dependsOn: string[];
}

export interface BatchDeps {
  route: (sub: EmuRequest) => EmuResponse;
  faults: FaultRegistry;
  sleep: (ms: number) => Promise<void>;
}

function invalid(req: EmuRequest, message: string): EmuResponse {
  return graphError(req, 400, 'BadRequest', message);
}

/** Parses and validates the whole envelope; any problem fails the entire batch with 400. */
function parseItems(req: EmuRequest): BatchItem[] | EmuResponse {
  const body = parseJson(req.rawBody);
  if (!isRecord(body) || !Array.isArray(body.requests)) return invalid(req, 'Invalid batch payload format.');
  const raw: unknown[] = body.requests;
  if (raw.length === 0) return invalid(req, 'Invalid batch payload format: the requests array is empty.');
  if (raw.length > MAX_REQUESTS) return invalid(req, `The batch contains ${raw.length} requests; the maximum is ${MAX_REQUESTS}.`);
  const items: BatchItem[] = [];
  const ids = new Set<string>();
  for (const r of raw) {
    if (!isRecord(r) || typeof r.id !== 'string' || r.id === '' || typeof r.method !== 'string' || typeof r.url !== 'string') {
      return invalid(req, 'Invalid batch payload format: every request needs a string id, method and url.');
    }
    if (ids.has(r.id)) return invalid(req, `Request Id '${r.id}' is duplicated in the batch.`);
    ids.add(r.id);
    const headers: Record<string, string> = {};
    if (r.headers !== undefined) {
      if (!isRecord(r.headers)) return invalid(req, `Request '${r.id}': headers must be an object.`);
      for (const [k, v] of Object.entries(r.headers)) headers[k.toLowerCase()] = String(v);
    }
    if (r.body !== undefined && headers['content-type'] === undefined) {
      return invalid(req, `Request '${r.id}': a Content-Type header is required when a body is present.`);
    }
    const dependsOn = r.dependsOn === undefined ? [] : r.dependsOn;
    if (!Array.isArray(dependsOn) || !dependsOn.every((d): d is string => typeof d === 'string')) {
      return invalid(req, `Request '${r.id}': dependsOn must be an array of request ids.`);
    }
    items.push({ id: r.id, method: r.method.toUpperCase(), url: r.url, headers, body: r.body, dependsOn });
  }
  for (const item of items) {
    for (const dep of item.dependsOn) if (!ids.has(dep)) return invalid(req, `Request '${item.id}' depends on unknown request '${dep}'.`);
  }
  return items;
}

/** `/devices/x`, `devices/x` or an absolute Graph URL, as a path under the batch's version. */
function itemPath(req: EmuRequest, url: string): string {
  const version = /^\/beta\//.test(req.pathname) ? '/beta' : '/v1.0';
  let rel = url;
  if (/^https?:\/\//i.test(rel)) {
    const u = new URL(rel);
    rel = u.pathname.replace(/^\/(v1\.0|beta)/, '') + u.search;
  }
  if (!rel.startsWith('/')) rel = `/${rel}`;
  return version + rel;
}

function subRequest(req: EmuRequest, item: BatchItem): EmuRequest {
  const path = itemPath(req, item.url);
  const u = new URL(path, req.baseUrl);
  return {
    method: item.method,
    path,
    pathname: u.pathname,
    query: u.searchParams,
    // Items inherit the batch's credentials and correlation id unless they set their own.
    headers: { authorization: req.headers.authorization, 'client-request-id': req.headers['client-request-id'], ...item.headers },
    rawBody: item.body === undefined ? '' : typeof item.body === 'string' ? item.body : JSON.stringify(item.body),
    baseUrl: req.baseUrl,
    requestId: newId(),
  };
}

function itemHeaders(res: EmuResponse): Record<string, string> {
  const headers: Record<string, string> = { ...(res.headers ?? {}) };
  if (res.body !== undefined && header(res, 'Content-Type') === undefined) headers['Content-Type'] = 'application/json';
  return headers;
}

export async function runBatch(req: EmuRequest, deps: BatchDeps): Promise<EmuResponse> {
  const parsed = parseItems(req);
  if (!Array.isArray(parsed)) return parsed;
  const byId = new Map(parsed.map((i) => [i.id, i]));
  const results = new Map<string, EmuResponse>();
  const visiting = new Set<string>();

  const run = async (item: BatchItem): Promise<EmuResponse> => {
    const done = results.get(item.id);
    if (done) return done;
    if (visiting.has(item.id)) throw new CycleError(item.id);
    visiting.add(item.id);
    let res: EmuResponse | undefined;
    for (const dep of item.dependsOn) {
      const parent = await run(byId.get(dep)!);
      if (parent.status >= 400 && !res)
        res = graphError(req, 424, 'FailedDependency', `Request '${item.id}' depends on '${dep}', which failed.`);
    }
    res ??= await runOne(req, item, deps);
    results.set(item.id, res);
    return res;
  };

  try {
    for (const item of parsed) await run(item);
  } catch (err) {
    if (err instanceof CycleError) return invalid(req, `The dependsOn chain of request '${err.id}' is circular.`);
    throw err;
  }
  const responses = parsed
    .map((item) => {
      const res = results.get(item.id)!;
      const out: Record<string, unknown> = { id: item.id, status: res.status, headers: itemHeaders(res) };
      if (res.body !== undefined) out.body = res.body;
      return out;
    })
    .reverse();
  return json(200, { responses });
}

async function runOne(req: EmuRequest, item: BatchItem, deps: BatchDeps): Promise<EmuResponse> {
  const sub = subRequest(req, item);
  if (/^\/(v1\.0|beta)\/\$batch/.test(sub.pathname)) return graphError(sub, 400, 'BadRequest', 'Nested batch requests are not supported.');
  const fault = deps.faults.take({ method: sub.method, path: sub.path, service: 'graph', batchItem: true });
  if (fault?.delayMs) await deps.sleep(fault.delayMs);
  return (fault && faultResponse(fault, sub, 'graph')) ?? deps.route(sub);
}

class CycleError extends Error {
  constructor(readonly id: string) {
    super(`dependsOn cycle at ${id}`);
  }
}
