// The request pipeline of the single HTTPS listener: read the body, classify the service, journal,
// apply a matching fault (delay and/or canned response), dispatch, and write JSON with the
// correlation headers each service sends.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { faultResponse, type FaultRegistry } from './faults';
import type { GraphService } from './graph';
import { graphError, header, newId, type EmuRequest, type EmuResponse } from './http';
import { aadError, type IdentityService } from './identity';
import type { IntuneService } from './intune';
import { journalBody, requestTenant, type Journal } from './journal';
import type { ControlPlane } from './control';
import type { FaultableService, Service } from './types';

const MAX_BODY_BYTES = 10 * 1024 * 1024;

export interface PipelineDeps {
  journal: Journal;
  faults: FaultRegistry;
  identity: IdentityService;
  graph: GraphService;
  intune: IntuneService;
  control: ControlPlane;
  baseUrl: () => string;
  sleep: (ms: number) => Promise<void>;
  logger?: (line: object) => void;
}

export function classify(pathname: string): Service {
  if (pathname.startsWith('/_emulator/') || pathname === '/_emulator') return 'control';
  if (/^\/(v1\.0|beta)(\/|$)/.test(pathname)) return 'graph';
  if (pathname.startsWith('/intune/')) return 'intune';
  if (/^\/[^/]+\/oauth2\/v2\.0\/token\/?$/.test(pathname)) return 'token';
  return 'identity';
}

function isFaultable(s: Service): s is FaultableService {
  return s === 'token' || s === 'graph' || s === 'intune';
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge());
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function flatHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** Graph and Intune send request-id; the identity platform sends x-ms-request-id. Both echo client-request-id. */
function correlationHeaders(service: Service, req: EmuRequest): Record<string, string> {
  const clientRequestId = clientRequestIdOf(req);
  if (service === 'graph' || service === 'intune')
    return { 'request-id': req.requestId, 'client-request-id': clientRequestId ?? req.requestId };
  if (service === 'token' || service === 'identity')
    return { 'x-ms-request-id': req.requestId, ...(clientRequestId ? { 'client-request-id': clientRequestId } : {}) };
  return {};
}

function write(res: ServerResponse, out: EmuResponse, extraHeaders: Record<string, string>): void {
  const headers: Record<string, string> = { ...extraHeaders, ...(out.headers ?? {}) };
  let payload: string | undefined;
  if (out.body !== undefined) {
    const isText = typeof out.body === 'string';
    payload = isText ? (out.body as string) : JSON.stringify(out.body);
    if (header(out, 'Content-Type') === undefined)
      headers['Content-Type'] = isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
  }
  res.writeHead(out.status, headers);
  res.end(payload);
}

function internalError(service: Service, req: EmuRequest, err: unknown): EmuResponse {
  const message = `Emulator error: ${err instanceof Error ? err.message : String(err)}`;
  return service === 'token' || service === 'identity'
    ? aadError(req, 500, 'server_error', 90033, message, { 'Retry-After': '1' })
    : graphError(req, 500, 'generalException', message);
}

export function createRequestHandler(deps: PipelineDeps): (req: IncomingMessage, res: ServerResponse) => void {
  // Connections that carried a request already: the journal marks the first one on each, so a
  // client's connection reuse (keep-alive) can be read off the journal.
  const seen = new WeakSet<Socket>();
  return (req, res) => {
    const newConnection = !seen.has(req.socket);
    if (newConnection) seen.add(req.socket);
    void handle(deps, req, res, newConnection);
  };
}

async function handle(deps: PipelineDeps, req: IncomingMessage, res: ServerResponse, newConnection: boolean): Promise<void> {
  const receivedAt = new Date();
  const started = Date.now();
  const rawPath = req.url ?? '/';
  // Concatenated rather than resolved, so a path starting with // stays a path.
  const url = new URL(`${deps.baseUrl()}${rawPath.startsWith('/') ? '' : '/'}${rawPath}`);
  const service = classify(url.pathname);
  const headers = flatHeaders(req);
  const emuReq: EmuRequest = {
    method: (req.method ?? 'GET').toUpperCase(),
    path: rawPath,
    pathname: url.pathname,
    query: url.searchParams,
    headers,
    rawBody: '',
    baseUrl: deps.baseUrl(),
    requestId: newId(),
  };
  const tenantId = service === 'control' ? undefined : requestTenant(service, url.pathname, headers.authorization);
  let out: EmuResponse;
  let faulted = false;
  let complete: ((status: number, faulted: boolean) => void) | undefined;
  try {
    try {
      emuReq.rawBody = await readBody(req);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      out = graphError(emuReq, 413, 'RequestEntityTooLarge', 'The request body is too large.');
      write(res, out, correlationHeaders(service, emuReq));
      return;
    }
    if (service !== 'control') {
      complete = deps.journal.begin({
        at: receivedAt.toISOString(),
        method: emuReq.method,
        path: rawPath,
        service,
        ...(headers['retry-attempt'] !== undefined ? { retryAttempt: headers['retry-attempt'] } : {}),
        ...(clientRequestIdOf(emuReq) !== undefined ? { clientRequestId: clientRequestIdOf(emuReq) } : {}),
        ...(headers.sdkversion !== undefined ? { sdkVersion: headers.sdkversion } : {}),
        hasBearer: /^Bearer\s/i.test(headers.authorization ?? ''),
        ...(tenantId !== undefined ? { tenantId } : {}),
        body: journalBody(emuReq.rawBody, headers['content-type']),
        ...(newConnection ? { newConnection: true as const } : {}),
      });
    }
    let canned: EmuResponse | undefined;
    if (isFaultable(service)) {
      const fault = deps.faults.take({ method: emuReq.method, path: rawPath, service, batchItem: false });
      if (fault?.delayMs) await deps.sleep(fault.delayMs);
      if (fault?.reset) {
        req.socket.destroy();
        complete?.(0, true);
        deps.logger?.({
          msg: 'request',
          service,
          method: emuReq.method,
          path: url.pathname,
          status: 0,
          ms: Date.now() - started,
          faulted: true,
        });
        return;
      }
      if (fault) canned = faultResponse(fault, emuReq, service);
      faulted = fault !== undefined;
    }
    out = canned ?? (await dispatch(deps, service, emuReq));
  } catch (err) {
    deps.logger?.({
      level: 'error',
      msg: 'emulator handler failed',
      path: url.pathname,
      err: err instanceof Error ? err.message : String(err),
    });
    out = internalError(service, emuReq, err);
  }
  if (!res.destroyed) write(res, out, correlationHeaders(service, emuReq));
  complete?.(out.status, faulted);
  deps.logger?.({
    msg: 'request',
    service,
    method: emuReq.method,
    path: url.pathname,
    status: out.status,
    ms: Date.now() - started,
    ...(tenantId !== undefined ? { tenantId } : {}),
    ...(faulted ? { faulted } : {}),
  });
}

function clientRequestIdOf(req: EmuRequest): string | undefined {
  return req.headers['client-request-id'] ?? req.query.get('client-request-id') ?? undefined;
}

async function dispatch(deps: PipelineDeps, service: Service, req: EmuRequest): Promise<EmuResponse> {
  switch (service) {
    case 'control':
      return deps.control.handle(req);
    case 'graph':
      return deps.graph.handle(req);
    case 'intune':
      return deps.intune.handle(req);
    case 'token':
    case 'identity':
      return deps.identity.handle(req);
  }
}
