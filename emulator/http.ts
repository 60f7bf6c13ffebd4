// The request/response shapes every service handler uses, and the JSON helpers they share. Handlers
// return a value instead of writing to the socket so `$batch` can dispatch sub-requests internally.
import { createHash, randomUUID } from 'node:crypto';

export interface EmuRequest {
  method: string;
  /** Path with query string, as received. */
  path: string;
  pathname: string;
  query: URLSearchParams;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  rawBody: string;
  /** https://localhost:PORT, used to build absolute URLs in responses. */
  baseUrl: string;
  /** Generated per request; echoed as request-id by Graph. */
  requestId: string;
}

export interface EmuResponse {
  status: number;
  headers?: Record<string, string>;
  /** undefined: no body (204). A string is sent verbatim; anything else as JSON. */
  body?: unknown;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): EmuResponse {
  return { status, body, headers };
}

export function noContent(headers: Record<string, string> = {}): EmuResponse {
  return { status: 204, headers };
}

export function newId(): string {
  return randomUUID();
}

/** decodeURIComponent that leaves malformed escapes as they are. */
export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A stable GUID-shaped id derived from its parts, for objects that must not change between calls. */
export function stableId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('|')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Parses a JSON body; undefined when it is empty or not JSON. */
export function parseJson(raw: string): unknown {
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function header(res: EmuResponse, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(res.headers ?? {})) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Graph's innerError date: UTC without milliseconds or zone designator. */
export function graphDate(d: Date): string {
  return d.toISOString().slice(0, 19);
}

/** Graph's error body (`{ error: { code, message, innerError } }`), shared by Graph and the Intune partner API. */
export function graphError(
  req: Pick<EmuRequest, 'requestId' | 'headers'>,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  innerExtra: Record<string, string> = {},
): EmuResponse {
  return json(
    status,
    {
      error: {
        code,
        message,
        innerError: {
          ...innerExtra,
          date: graphDate(new Date()),
          'request-id': req.requestId,
          'client-request-id': req.headers['client-request-id'] ?? req.requestId,
        },
      },
    },
    headers,
  );
}

const DEFAULT_GRAPH_ERRORS: Record<number, [string, string]> = {
  400: ['BadRequest', 'The request is invalid.'],
  401: ['InvalidAuthenticationToken', 'Access token has expired or is not yet valid.'],
  403: ['Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'],
  404: ['Request_ResourceNotFound', 'Resource does not exist or one of its queried reference-property objects are not present.'],
  409: ['Conflict', 'The request conflicts with the current state of the resource.'],
  429: ['TooManyRequests', 'Please retry again later.'],
  500: ['generalException', 'General exception while processing.'],
  502: ['badGateway', 'Bad gateway.'],
  503: ['serviceNotAvailable', 'The service is temporarily unavailable. Please retry after the time in the Retry-After header.'],
  504: ['gatewayTimeout', 'The gateway timed out.'],
};

/** The body a Graph or Intune fault gets when its spec gives none. */
export function defaultGraphErrorBody(req: Pick<EmuRequest, 'requestId' | 'headers'>, status: number): unknown {
  const [code, message] = DEFAULT_GRAPH_ERRORS[status] ?? ['UnknownError', `HTTP ${status}`];
  const inner: Record<string, string> = status === 429 ? { code: '429', message: 'Please retry after', status: '429' } : {};
  return graphError(req, status, code, message, {}, inner).body;
}
