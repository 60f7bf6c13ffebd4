/**
 * The one place where a failure talking to Microsoft becomes the `ApplicationFailure` an activity
 * throws. Retries belong to Temporal (docs/architecture.md): the `type` is the failure reason
 * (domain/failure-reasons.ts), retryable reasons carry `nextRetryDelay` = Retry-After when Microsoft
 * sent one, the others are `nonRetryable`. Every failure carries
 * `details: [{ reason, status, code, message, deviceId }]`.
 */
import { ApplicationFailure } from '@temporalio/common';
import { isRetryableReason, type FailureReason } from '../../domain/failure-reasons';
import { AzureApiError } from './errors';
import { describeTransport, fromGraphError, isGraphErrorLike } from './http-errors';
import { fromMsalError, isMsalErrorLike } from './msal-errors';

/** What `details[0]` of every failure produced here holds. */
export interface AzureFailureDetail {
  reason: FailureReason;
  status: number | null;
  code: string | null;
  message: string;
  deviceId: string | null;
}

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
    type: reason,
    message,
    nonRetryable: !retryable,
    details: [detail],
    ...(retryable && azureErr.retryAfterMs !== null ? { nextRetryDelay: azureErr.retryAfterMs } : {}),
    cause: azureErr,
  });
}

/** Not from the client (which throws only AzureApiError): a bug or a raw transport error. Retryable. */
function fromUnexpectedError(err: unknown, context: { deviceId?: string; operation?: string }): AzureApiError {
  const t = describeTransport(err);
  const e = err as { name?: unknown; message?: unknown } | null;
  const text =
    t.timeout || e?.name === 'TransportError' || (e?.name === 'TypeError' && e?.message === 'fetch failed')
      ? t.text
      : `unexpected error: ${typeof e?.name === 'string' ? `${e.name}: ` : ''}${typeof e?.message === 'string' ? e.message : String(err)}`;
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
