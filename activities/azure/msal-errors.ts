/**
 * Failures of token calls (msal-node's `acquireTokenByClientCredential`) mapped to `AzureApiError`.
 * msal-node's errors lose the HTTP status and headers, so the mapping also reads what the network
 * module in `msal.ts` saw during the call (`TokenObservation`).
 */
import type { FailureReason } from '../../domain/failure-reasons';
import { AzureApiError, type CallContext } from './errors';
import { fromNetworkError, reasonForStatus } from './http-errors';

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

/** AADSTS65001: the administrator has not consented to the app (or withdrew it). Always a consent error. */
const CONSENT_REQUIRED = '65001';
/**
 * AADSTS700016: no such application in the tenant's directory. For the partner app's own tenant that
 * is a wrong client id; for a customer's tenant it is what Entra answers once the admin consent (the
 * app's service principal there) is gone or was never granted.
 */
const APP_NOT_IN_DIRECTORY = '700016';

/** Whether an AAD error is the consent of the tenant's administrator missing (docs/microsoft-protocol.md). */
export function isConsentError(aad: { errorNo?: string | number | undefined; description: string }, customerTenant: boolean): boolean {
  const codes = new Set([String(aad.errorNo ?? ''), ...[...aad.description.matchAll(/AADSTS(\d+)/g)].map((m) => m[1]!)]);
  return codes.has(CONSENT_REQUIRED) || (customerTenant && codes.has(APP_NOT_IN_DIRECTORY));
}

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
  const base = {
    service: 'token' as const,
    operation: ctx.operation,
    deviceId: ctx.deviceId ?? null,
    userPrincipalName: ctx.userPrincipalName ?? null,
    cause: err,
  };
  const where = `identity platform ${observation?.request ?? ctx.request ?? ctx.operation}`;

  if (observation?.transportError !== undefined) {
    return fromNetworkError(
      'token',
      observation.transportError,
      { ...ctx, request: observation.request ?? ctx.request ?? 'token request' },
      observation.timeoutMs,
    );
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
  const aad = isServerError
    ? { error: msalCode, description: e.errorMessage ?? '', errorNo: e.errorNo }
    : observation?.serverError
      ? {
          error: observation.serverError.error,
          description: observation.serverError.description ?? '',
          errorNo: observation.serverError.codes[0],
        }
      : null;
  // AAD puts `AADSTSnnnn: text` in error_description; msal-node appends trace/correlation ids.
  const aadMatch = aad ? /AADSTS\d+:[^\r\n]*?(?= Trace ID:| Correlation ID:| Timestamp:| - |$)/.exec(aad.description) : null;
  const detail = aadMatch ? aadMatch[0].trim() : (aad?.description ?? '').split('\n')[0]!.slice(0, 300);

  if (aad) {
    const code = aad.error;
    if (isConsentError(aad, ctx.customerTenant === true)) {
      return new AzureApiError({
        ...base,
        reason: 'ConsentRevoked',
        status: status ?? null,
        code,
        message: `${where}: the partner app has no admin consent in this tenant (${[code, detail].filter(Boolean).join(': ')})`,
      });
    }
    if (code && INVALID_CREDENTIAL_CODES.has(code)) {
      return new AzureApiError({
        ...base,
        reason: 'InvalidCredentials',
        status: status ?? null,
        code,
        message: `${where} rejected the partner app's credentials: ${code}${detail ? ` (${detail})` : ''}`,
      });
    }
    if (String(aad.errorNo) === '90002' || /AADSTS90002\b/.test(aad.description)) {
      return new AzureApiError({
        ...base,
        reason: 'InvalidCredentials',
        status: status ?? null,
        code,
        message: `${where}: the tenant was not found (${detail})`,
      });
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
    const reason: FailureReason =
      status >= 500 || status === 429
        ? reasonForStatus(status, retryAfterMs)
        : code === 'temporarily_unavailable'
          ? 'Transient'
          : status === 401
            ? 'InvalidCredentials'
            : reasonForStatus(status, retryAfterMs);
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
    return new AzureApiError({
      ...base,
      reason: 'InvalidRequest',
      status: null,
      code: msalCode,
      message: `msal-node configuration error: ${msalCode ?? ''} ${e.errorMessage ?? e.message ?? ''}`.trim(),
    });
  }
  if (status !== undefined && status >= 400) {
    return new AzureApiError({
      ...base,
      reason: reasonForStatus(status, retryAfterMs),
      status,
      code: msalCode,
      retryAfterMs,
      message: `${where} returned HTTP ${status} (${msalCode ?? e.message ?? 'error'})`,
    });
  }
  return new AzureApiError({
    ...base,
    reason: 'Transient',
    status: status ?? null,
    code: msalCode,
    message: `${where} failed: ${msalCode ?? ''} ${e.errorMessage ?? e.message ?? String(err)}`.trim(),
  });
}

/** An error shaped like msal-node's (`AuthError` and its subclasses): a string `errorCode` and `name`. */
export function isMsalErrorLike(err: unknown): boolean {
  return (
    !!err &&
    typeof err === 'object' &&
    typeof (err as { errorCode?: unknown }).errorCode === 'string' &&
    typeof (err as { name?: unknown }).name === 'string'
  );
}
