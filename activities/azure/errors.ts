/**
 * The one place where failures talking to Microsoft (token endpoint, Graph, Intune partner API) are
 * classified and mapped to Temporal failures (design.md §3 decision 4: retries belong to Temporal).
 *
 * The client (`client.ts`) throws only `AzureApiError`; it builds them with the `from*` functions
 * below. Activities turn any caught error into an `ApplicationFailure` with `toTemporalFailure`.
 *
 * Failure types:
 * - retryable reasons map to the types `AzureThrottled` (with `nextRetryDelay` = Retry-After when the
 *   server sent one), `AzureTransient`, `AzureUnauthorized`;
 * - non-retryable reasons use the reason itself as the type (`DeviceNotFound`, `Forbidden`, …) and
 *   carry `nonRetryable: true`.
 * Every failure carries `details: [{ reason, status, code, message, deviceId }]`.
 *
 * Nothing here ever puts a token or a secret in a message: messages are built from status codes,
 * service error codes/messages and the ids the caller supplies.
 */
import { GraphError } from '@microsoft/microsoft-graph-client';
import { ApplicationFailure } from '@temporalio/common';

export type AzureService = 'token' | 'graph' | 'intune';

export const AZURE_FAILURE_REASONS = [
  'DeviceNotFound',
  'UserNotFound',
  'InvalidRequest',
  'Forbidden',
  'InvalidCredentials',
  'TenantNotProvisioned',
  'UploadRejected',
  'Throttled',
  'Transient',
  'Unauthorized',
] as const;
export type AzureFailureReason = (typeof AZURE_FAILURE_REASONS)[number];

/** Reasons Temporal retries; every other reason is permanent (non-retryable). */
export const RETRYABLE_REASONS: ReadonlySet<AzureFailureReason> = new Set<AzureFailureReason>(['Throttled', 'Transient', 'Unauthorized']);

export function isRetryableReason(reason: AzureFailureReason): boolean {
  return RETRYABLE_REASONS.has(reason);
}

/** The `ApplicationFailure.type` used for a reason: `Azure<Reason>` when retryable, the reason itself otherwise. */
export function failureTypeFor(reason: AzureFailureReason): string {
  return isRetryableReason(reason) ? `Azure${reason}` : reason;
}

/** What `details[0]` of every failure produced here holds (shown in the device details). */
export interface AzureFailureDetail {
  reason: AzureFailureReason;
  status: number | null;
  code: string | null;
  message: string;
  deviceId: string | null;
}

export interface AzureApiErrorInit {
  service: AzureService;
  reason: AzureFailureReason;
  message: string;
  status?: number | null;
  code?: string | null;
  retryAfterMs?: number | null;
  operation?: string | null;
  deviceId?: string | null;
  userPrincipalName?: string | null;
  cause?: unknown;
}

/** The only error type the Microsoft client throws. */
export class AzureApiError extends Error {
  override readonly name = 'AzureApiError';
  /** HTTP status, or null when no response was received (network error, timeout, local throttle). */
  readonly status: number | null;
  /** Service error code (Graph `error.code`, AAD `error`, …), or null. */
  readonly code: string | null;
  /** Delay the server asked for (Retry-After), in ms, or null. */
  readonly retryAfterMs: number | null;
  readonly service: AzureService;
  readonly reason: AzureFailureReason;
  readonly operation: string | null;
  readonly deviceId: string | null;
  readonly userPrincipalName: string | null;

  constructor(init: AzureApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status ?? null;
    this.code = init.code ?? null;
    this.retryAfterMs = init.retryAfterMs ?? null;
    this.service = init.service;
    this.reason = init.reason;
    this.operation = init.operation ?? null;
    this.deviceId = init.deviceId ?? null;
    this.userPrincipalName = init.userPrincipalName ?? null;
  }

  get retryable(): boolean {
    return isRetryableReason(this.reason);
  }
}

export function isAzureApiError(err: unknown): err is AzureApiError {
  return err instanceof AzureApiError;
}

// ---------------------------------------------------------------------------------------------
// Retry-After
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Classification helpers used by the client
// ---------------------------------------------------------------------------------------------

/** Context the client knows about the call that failed. */
export interface CallContext {
  operation: string;
  /** A short description of the request (method and path, never a token). */
  request?: string;
  deviceId?: string | null;
  userPrincipalName?: string | null;
  /** Reason for a 404: an unknown device, user, … (default InvalidRequest). */
  notFoundReason?: AzureFailureReason;
  /** Set when the request already failed with 401 once and the token was refreshed. */
  afterRefresh?: boolean;
}

const SERVICE_LABEL: Record<AzureService, string> = {
  token: 'token endpoint',
  graph: 'Microsoft Graph',
  intune: 'Intune partner API',
};

/** The reason for an HTTP status (a retryable one for 429/5xx/401/408). */
export function reasonForStatus(status: number, retryAfterMs: number | null, notFoundReason?: AzureFailureReason): AzureFailureReason {
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

function notFoundMessage(reason: AzureFailureReason, ctx: CallContext): string | null {
  if (reason === 'UserNotFound' && ctx.userPrincipalName) return `Entra ID has no user ${ctx.userPrincipalName}`;
  if (reason === 'DeviceNotFound' && ctx.deviceId) return `Entra ID has no device ${ctx.deviceId}`;
  return null;
}

/** Extracts `{code, message}` from the error bodies Microsoft services use (Graph, OData v3, AAD, partner). */
export function extractServiceError(body: unknown): { code: string | null; message: string | null } {
  if (!body || typeof body !== 'object') return { code: null, message: null };
  const b = body as Record<string, unknown>;
  const str = (x: unknown): string | null => (typeof x === 'string' && x !== '' ? x : null);
  const err = b.error;
  if (err && typeof err === 'object') {
    const e = err as Record<string, unknown>;
    const msg = e.message;
    return {
      code: str(e.code),
      message: str(msg) ?? (msg && typeof msg === 'object' ? str((msg as Record<string, unknown>).value) : null),
    };
  }
  if (typeof err === 'string') return { code: err, message: str(b.error_description) };
  const odata = b['odata.error'];
  if (odata && typeof odata === 'object') {
    const e = odata as Record<string, unknown>;
    const msg = e.message;
    return {
      code: str(e.code),
      message: str(msg) ?? (msg && typeof msg === 'object' ? str((msg as Record<string, unknown>).value) : null),
    };
  }
  return { code: str(b.Code) ?? str(b.code), message: str(b.ErrorDetail) ?? str(b.Message) ?? str(b.message) };
}

function describeTransport(err: unknown, timeoutMs?: number): { timeout: boolean; text: string } {
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
  if (mapped.code === null && err.code) {
    return new AzureApiError({ ...fieldsOf(mapped), code: err.code });
  }
  return mapped;
}

function fieldsOf(e: AzureApiError): AzureApiErrorInit {
  return {
    service: e.service,
    reason: e.reason,
    message: e.message,
    status: e.status,
    code: e.code,
    retryAfterMs: e.retryAfterMs,
    operation: e.operation,
    deviceId: e.deviceId,
    userPrincipalName: e.userPrincipalName,
    cause: e.cause,
  };
}

// ---------------------------------------------------------------------------------------------
// msal-node
// ---------------------------------------------------------------------------------------------

/** What the client's MSAL network module saw during one token call. */
export interface TokenObservation {
  /** HTTP status of the last response from the identity platform, if any. */
  status?: number;
  retryAfterMs?: number | null;
  /** The Retry-After header as received (msal-node parses it with parseInt). */
  retryAfterRaw?: string | null;
  contentType?: string | null;
  /** Set when the last request got no response (network error, timeout). */
  transportError?: unknown;
  /** Set when the body could not be parsed as JSON. */
  nonJson?: boolean;
  /** The AAD error in the body (`error`, `error_description`, `error_codes`), if any. */
  serverError?: { error: string | null; description: string | null; codes: Array<number | string> };
  /** Method and path (no query) of the last request, for messages. */
  request?: string;
  timeoutMs?: number;
}

interface MsalErrorLike {
  name?: string;
  errorCode?: string;
  errorMessage?: string;
  errorNo?: string | number;
  status?: number;
  message?: string;
}

const INVALID_CREDENTIAL_CODES = new Set(['invalid_client', 'unauthorized_client', 'invalid_grant']);

/**
 * An error thrown by `acquireTokenByClientCredential`.
 * @param observation what the network module saw (the error itself loses status and headers)
 * @param locallyThrottledForMs when msal-node refused the call without a request (its own
 *   throttle after a 429/5xx), how long that throttle still lasts
 */
export function fromMsalError(
  err: unknown,
  ctx: CallContext,
  observation: TokenObservation | undefined,
  locallyThrottledForMs?: number | null,
): AzureApiError {
  if (err instanceof AzureApiError) return err;
  const e = (err ?? {}) as MsalErrorLike;
  const base = { service: 'token' as const, operation: ctx.operation, deviceId: ctx.deviceId ?? null, userPrincipalName: ctx.userPrincipalName ?? null, cause: err };
  const where = `identity platform ${observation?.request ?? ctx.request ?? ctx.operation}`;

  if (observation?.transportError !== undefined) {
    return fromNetworkError('token', observation.transportError, { ...ctx, request: observation.request ?? ctx.request ?? 'token request' }, observation.timeoutMs);
  }
  const status = typeof e.status === 'number' ? e.status : observation?.status;
  const retryAfterMs = observation?.retryAfterMs ?? null;

  if (observation?.nonJson && status !== undefined) {
    return new AzureApiError({
      ...base,
      reason: status >= 400 ? reasonForStatus(status, retryAfterMs) : 'Transient',
      status,
      code: 'NonJsonResponse',
      retryAfterMs,
      message: `${where} returned HTTP ${status} with a non-JSON body${observation.contentType ? ` (${observation.contentType.split(';')[0]})` : ''}`,
    });
  }

  // The AAD error: from msal-node's ServerError, or (when msal-node replaced it by a generic error,
  // e.g. endpoints_resolution_error after a failed openid-configuration GET) from the body we saw.
  const isServerError = e.name === 'ServerError';
  const msalCode = typeof e.errorCode === 'string' && e.errorCode !== '' ? e.errorCode : null;
  const aad = isServerError ? { error: msalCode, description: e.errorMessage ?? '', errorNo: e.errorNo } : observation?.serverError ? { error: observation.serverError.error, description: observation.serverError.description ?? '', errorNo: observation.serverError.codes[0] } : null;
  // AAD puts `AADSTSnnnn: text` in error_description; msal-node appends trace/correlation ids.
  const aadMatch = aad ? /AADSTS\d+:[^\r\n]*?(?= Trace ID:| Correlation ID:| Timestamp:| - |$)/.exec(aad.description) : null;
  const detail = aadMatch ? aadMatch[0].trim() : (aad?.description ?? '').split('\n')[0]!.slice(0, 300);

  if (aad) {
    const code = aad.error;
    if (code && INVALID_CREDENTIAL_CODES.has(code)) {
      return new AzureApiError({ ...base, reason: 'InvalidCredentials', status: status ?? null, code, message: `${where} rejected the partner app's credentials: ${code}${detail ? ` (${detail})` : ''}` });
    }
    if (String(aad.errorNo) === '90002' || /AADSTS90002\b/.test(aad.description)) {
      return new AzureApiError({ ...base, reason: 'InvalidCredentials', status: status ?? null, code, message: `${where}: the tenant was not found (${detail})` });
    }
    if (status === undefined) {
      // No HTTP response in this call: msal-node's own throttle (it remembers a 429/5xx).
      return new AzureApiError({
        ...base,
        reason: 'Throttled',
        status: null,
        code: code ?? 'throttled',
        retryAfterMs: locallyThrottledForMs ?? null,
        message: `${where} not sent: msal-node throttles it after an earlier 429/5xx answer${code ? ` (AAD ${code})` : ''}${locallyThrottledForMs != null ? `, for ${locallyThrottledForMs} ms more` : ''}`,
      });
    }
    const reason: AzureFailureReason =
      status >= 500 || status === 429 ? reasonForStatus(status, retryAfterMs) : code === 'temporarily_unavailable' ? 'Transient' : status === 401 ? 'InvalidCredentials' : reasonForStatus(status, retryAfterMs);
    return new AzureApiError({
      ...base,
      reason,
      status,
      code,
      retryAfterMs,
      message: `${where} returned HTTP ${status}${code ? ` ${code}` : ''}${detail ? `: ${detail}` : ''}${retryAfterMs !== null ? ` (Retry-After ${retryAfterMs} ms)` : ''}`,
    });
  }

  // ClientAuthError / ClientConfigurationError / anything else.
  if (e.name === 'ClientConfigurationError') {
    return new AzureApiError({ ...base, reason: 'InvalidRequest', status: null, code: msalCode, message: `msal-node configuration error: ${msalCode ?? ''} ${e.errorMessage ?? e.message ?? ''}`.trim() });
  }
  if (status !== undefined && status >= 400) {
    return new AzureApiError({ ...base, reason: reasonForStatus(status, retryAfterMs), status, code: msalCode, retryAfterMs, message: `${where} returned HTTP ${status} (${msalCode ?? e.message ?? 'error'})` });
  }
  return new AzureApiError({ ...base, reason: 'Transient', status: status ?? null, code: msalCode, message: `${where} failed: ${msalCode ?? ''} ${e.errorMessage ?? e.message ?? String(err)}`.trim() });
}

// ---------------------------------------------------------------------------------------------
// Upload messages that end `Failed`
// ---------------------------------------------------------------------------------------------

/** Classifies the `ErrorDetail` of a `Failed` upload message. */
export function describeUploadFailure(errorDetail: string): { reason: AzureFailureReason; message: string } {
  const detail = (errorDetail ?? '').trim();
  const missing = '(?:was\\s+not\\s+found|not\\s+found|does\\s+not\\s+exist|doesn\'t\\s+exist|is\\s+unknown|not\\s+registered|not\\s+present)';
  // "Device '<id>' was not found …", "unknown device …" (not "DeviceId"/"DeviceName" field errors).
  const deviceMissing = new RegExp(`(\\bdevice\\b[^.]*?${missing})|(unknown\\s+device\\b)`, 'i');
  const userMissing = new RegExp(`(\\buser\\b[^.]*?${missing})|(unknown\\s+user\\b)`, 'i');
  const d = detail.search(deviceMissing);
  const u = detail.search(userMissing);
  let reason: AzureFailureReason = 'UploadRejected';
  if (d >= 0 && (u < 0 || d <= u)) reason = 'DeviceNotFound';
  else if (u >= 0) reason = 'UserNotFound';
  else if (/\btenant\b/i.test(detail) && /(not\s+provisioned|deprovisioned|unprovisioned)/i.test(detail)) reason = 'TenantNotProvisioned';
  const label: Record<string, string> = {
    DeviceNotFound: 'Intune rejected the report: the device is not known to Entra ID',
    UserNotFound: 'Intune rejected the report: the user is not known to Entra ID',
    TenantNotProvisioned: 'Intune rejected the report: the tenant is not provisioned for this partner',
    UploadRejected: 'Intune rejected the report',
  };
  return { reason, message: `${label[reason]}${detail ? `: ${detail}` : ''}` };
}

/** The error for an upload message that ended `Failed`, ready for `toTemporalFailure`. */
export function uploadFailedError(args: { messageId: string; errorDetail: string | null; deviceId?: string | null }): AzureApiError {
  const d = describeUploadFailure(args.errorDetail ?? '');
  return new AzureApiError({
    service: 'intune',
    reason: d.reason,
    status: null,
    code: 'UploadFailed',
    message: `${d.message} (upload message ${args.messageId})`,
    operation: 'getUploadStatus',
    deviceId: args.deviceId ?? null,
  });
}

// ---------------------------------------------------------------------------------------------
// Temporal
// ---------------------------------------------------------------------------------------------

/** Any failure → the `ApplicationFailure` an activity throws. */
export function toTemporalFailure(err: unknown, context: { deviceId?: string; operation?: string } = {}): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const azureErr =
    err instanceof AzureApiError
      ? err
      : isGraphErrorLike(err)
        ? fromGraphError(err, { operation: context.operation ?? 'graph request', deviceId: context.deviceId })
        : isMsalErrorLike(err)
          ? fromMsalError(err, { operation: context.operation ?? 'token request', deviceId: context.deviceId }, undefined)
          : fromUnexpectedError(err, context);

  const deviceId = context.deviceId ?? azureErr.deviceId ?? null;
  const operation = context.operation ?? azureErr.operation;
  const reason = azureErr.reason;
  const namesDevice = deviceId !== null && azureErr.message.includes(deviceId);
  const prefix = [operation, deviceId !== null && !namesDevice ? `device ${deviceId}` : null].filter(Boolean).join(' for ');
  const message = prefix ? `${prefix}: ${azureErr.message}` : azureErr.message;
  const detail: AzureFailureDetail = { reason, status: azureErr.status, code: azureErr.code, message, deviceId };
  const retryable = isRetryableReason(reason);
  return ApplicationFailure.create({
    type: failureTypeFor(reason),
    message,
    nonRetryable: !retryable,
    details: [detail],
    ...(retryable && azureErr.retryAfterMs !== null ? { nextRetryDelay: azureErr.retryAfterMs } : {}),
    cause: azureErr,
  });
}

/** Not from the client (which throws only AzureApiError): a bug or a raw fetch error. Retryable. */
function fromUnexpectedError(err: unknown, context: { deviceId?: string; operation?: string }): AzureApiError {
  const t = describeTransport(err);
  const e = err as { name?: unknown; message?: unknown } | null;
  const text = t.timeout || (e?.name === 'TypeError' && e?.message === 'fetch failed') ? t.text : `unexpected error: ${typeof e?.name === 'string' ? `${e.name}: ` : ''}${typeof e?.message === 'string' ? e.message : String(err)}`;
  return new AzureApiError({
    // The service is unknown here; 'intune' is only a placeholder (it is not part of the failure details).
    service: 'intune',
    reason: 'Transient',
    code: t.timeout ? 'Timeout' : 'UnexpectedError',
    message: text,
    operation: context.operation ?? null,
    deviceId: context.deviceId ?? null,
    cause: err,
  });
}

function isMsalErrorLike(err: unknown): boolean {
  return !!err && typeof err === 'object' && typeof (err as { errorCode?: unknown }).errorCode === 'string' && typeof (err as { name?: unknown }).name === 'string';
}
