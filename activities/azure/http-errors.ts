/**
 * Failures of HTTP calls to Microsoft Graph (through the Graph client) and the Intune partner API
 * (through fetch), mapped to `AzureApiError`: a status to its reason, Retry-After to a delay, the
 * error bodies Microsoft services use to a code and a message. How each maps: docs/microsoft-protocol.md.
 */
import { GraphError } from '@microsoft/microsoft-graph-client';
import type { FailureReason } from '../../domain/failure-reasons';
import { AzureApiError, SERVICE_LABEL, type AzureService, type CallContext } from './errors';

/**
 * Parses a Retry-After header: delay-seconds (`"2"`, also tolerating `"1.5"`) or an HTTP-date.
 * Returns the delay in ms (never negative), or null when absent or unparsable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | null {
  if (value === null || value === undefined) return null;
  const v = value.trim();
  if (v === '') return null;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

/** The reason for an HTTP status (a retryable one for 429/5xx/401/408). */
export function reasonForStatus(status: number, retryAfterMs: number | null, notFoundReason?: FailureReason): FailureReason {
  if (status === 429) return 'Throttled';
  if ((status === 503 || status === 504) && retryAfterMs !== null) return 'Throttled';
  if (status >= 500) return 'Transient';
  if (status === 408) return 'Transient';
  if (status === 401) return 'Unauthorized';
  if (status === 403) return 'Forbidden';
  if (status === 404) return notFoundReason ?? 'InvalidRequest';
  return 'InvalidRequest';
}

function subjectOf(ctx: CallContext): string {
  const parts: string[] = [];
  if (ctx.deviceId) parts.push(`device ${ctx.deviceId}`);
  if (ctx.userPrincipalName) parts.push(`user ${ctx.userPrincipalName}`);
  return parts.length ? ` for ${parts.join(', ')}` : '';
}

function notFoundMessage(reason: FailureReason, ctx: CallContext): string | null {
  if (reason === 'UserNotFound' && ctx.userPrincipalName) return `Entra ID has no user ${ctx.userPrincipalName}`;
  if (reason === 'DeviceNotFound' && ctx.deviceId) return `Entra ID has no device ${ctx.deviceId}`;
  return null;
}

/** `{code, message}` of an `{ code, message }` object whose message may be `{ value }` (Graph, OData v3). */
function codeAndMessage(e: Record<string, unknown>): { code: string | null; message: string | null } {
  const msg = e.message;
  return {
    code: nonEmptyString(e.code),
    message: nonEmptyString(msg) ?? (msg && typeof msg === 'object' ? nonEmptyString((msg as Record<string, unknown>).value) : null),
  };
}

/** A string field of a Microsoft answer, or null when it is missing, empty or not a string. */
export function nonEmptyString(x: unknown): string | null {
  return typeof x === 'string' && x !== '' ? x : null;
}

/** Extracts `{code, message}` from the error bodies Microsoft services use (Graph, OData v3, AAD, partner). */
export function extractServiceError(body: unknown): { code: string | null; message: string | null } {
  if (!body || typeof body !== 'object') return { code: null, message: null };
  const b = body as Record<string, unknown>;
  const err = b.error;
  if (err && typeof err === 'object') return codeAndMessage(err as Record<string, unknown>);
  if (typeof err === 'string') return { code: err, message: nonEmptyString(b.error_description) };
  const odata = b['odata.error'];
  if (odata && typeof odata === 'object') return codeAndMessage(odata as Record<string, unknown>);
  return {
    code: nonEmptyString(b.Code) ?? nonEmptyString(b.code),
    message: nonEmptyString(b.ErrorDetail) ?? nonEmptyString(b.Message) ?? nonEmptyString(b.message),
  };
}

/** What a request that got no response ran into: a timeout, or a network error and its cause's code. */
export function describeTransport(err: unknown, timeoutMs?: number): { timeout: boolean; text: string } {
  const e = err as { name?: unknown; message?: unknown; cause?: unknown; code?: unknown } | null;
  const name = typeof e?.name === 'string' ? e.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return { timeout: true, text: timeoutMs ? `request timed out after ${timeoutMs} ms` : 'request timed out' };
  }
  const cause = e?.cause as { code?: unknown; message?: unknown } | undefined;
  const causeText =
    cause && typeof cause === 'object'
      ? typeof cause.code === 'string'
        ? cause.code
        : typeof cause.message === 'string'
          ? cause.message
          : ''
      : typeof e?.code === 'string'
        ? e.code
        : '';
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  return { timeout: false, text: `network error: ${msg}${causeText ? ` (${causeText})` : ''}` };
}

/** A request that got no HTTP response: network failure or timeout → retryable Transient. */
export function fromNetworkError(service: AzureService, err: unknown, ctx: CallContext, timeoutMs?: number): AzureApiError {
  const t = describeTransport(err, timeoutMs);
  return new AzureApiError({
    service,
    reason: 'Transient',
    status: null,
    code: t.timeout ? 'Timeout' : 'NetworkError',
    message: `${SERVICE_LABEL[service]} ${ctx.request ?? ctx.operation}${subjectOf(ctx)}: ${t.text}`,
    operation: ctx.operation,
    deviceId: ctx.deviceId ?? null,
    userPrincipalName: ctx.userPrincipalName ?? null,
    cause: err,
  });
}

/** A non-2xx HTTP response (Graph or partner API). `body` is the parsed JSON, or the raw text. */
export function fromHttpResponse(
  service: AzureService,
  status: number,
  headers: { get(name: string): string | null } | null | undefined,
  body: unknown,
  ctx: CallContext,
): AzureApiError {
  const retryAfterMs = parseRetryAfter(headers?.get('retry-after'));
  const contentType = headers?.get('content-type') ?? null;
  const parsed = typeof body === 'string' ? { code: null, message: null } : extractServiceError(body);
  const reason = reasonForStatus(status, retryAfterMs, ctx.notFoundReason);
  const where = `${SERVICE_LABEL[service]} ${ctx.request ?? ctx.operation}`;
  const notFound = status === 404 ? notFoundMessage(reason, ctx) : null;
  let text: string;
  if (notFound) text = `${notFound} (${where} returned HTTP 404${parsed.code ? ` ${parsed.code}` : ''})`;
  else {
    text = `${where}${subjectOf(ctx)} returned HTTP ${status}`;
    if (parsed.code) text += ` ${parsed.code}`;
    if (parsed.message) text += `: ${parsed.message}`;
    else if (contentType && !/json/i.test(contentType)) text += ` with a non-JSON body (${contentType.split(';')[0]})`;
  }
  if (retryAfterMs !== null) text += ` (Retry-After ${retryAfterMs} ms)`;
  if (status === 401 && ctx.afterRefresh) text += ' even after a token refresh';
  return new AzureApiError({
    service,
    reason,
    status,
    code: parsed.code,
    retryAfterMs,
    message: text,
    operation: ctx.operation,
    deviceId: ctx.deviceId ?? null,
    userPrincipalName: ctx.userPrincipalName ?? null,
  });
}

/** Shape of `GraphError` from @microsoft/microsoft-graph-client (duck-typed to avoid instanceof across copies). */
interface GraphErrorLike {
  statusCode: number;
  code: string | null;
  message: string;
  body: unknown;
  headers?: { get(name: string): string | null } | undefined;
}

export function isGraphErrorLike(err: unknown): err is GraphErrorLike {
  if (err instanceof GraphError) return true;
  // GraphError does not set `name`; recognise a copy from another module instance by its fields.
  return err instanceof Error && typeof (err as { statusCode?: unknown }).statusCode === 'number' && 'requestId' in err && 'body' in err;
}

/** A failure thrown by the Graph client (`GraphError`), or anything else thrown while calling it. */
export function fromGraphError(
  err: unknown,
  ctx: CallContext,
  timeoutMs?: number,
  responseHeaders?: { get(name: string): string | null },
): AzureApiError {
  if (err instanceof AzureApiError) return err;
  if (!isGraphErrorLike(err)) return fromNetworkError('graph', err, ctx, timeoutMs);
  if (err.statusCode < 0) {
    // No response: the SDK wraps the fetch rejection, keeping its name as `code`.
    return fromNetworkError('graph', { name: err.code ?? '', message: err.message }, ctx, timeoutMs);
  }
  let body: unknown = err.body;
  // A non-JSON (e.g. text/html) error body reaches us as an unread stream: release it.
  if (body && typeof body === 'object' && typeof (body as { cancel?: unknown }).cancel === 'function') {
    (body as { cancel(): Promise<void> }).cancel().catch(() => undefined);
    body = null;
  }
  if (typeof body === 'string') {
    try {
      body = { error: JSON.parse(body) as unknown };
    } catch {
      /* keep the text */
    }
  }
  const mapped = fromHttpResponse('graph', err.statusCode, err.headers ?? responseHeaders, body, ctx);
  if (mapped.code !== null || !err.code) return mapped;
  return new AzureApiError({
    service: mapped.service,
    reason: mapped.reason,
    message: mapped.message,
    status: mapped.status,
    code: err.code,
    retryAfterMs: mapped.retryAfterMs,
    operation: mapped.operation,
    deviceId: mapped.deviceId,
    userPrincipalName: mapped.userPrincipalName,
  });
}
