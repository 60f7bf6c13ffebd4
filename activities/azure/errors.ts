/**
 * The one error type the Microsoft client throws. Built by the mappings beside it, one per source:
 * `http-errors.ts` (Graph and the Intune partner API), `msal-errors.ts` (the identity platform
 * through msal-node), `upload-errors.ts` (an upload message that ended `Failed`). Activities turn it
 * into a Temporal failure with `toTemporalFailure` (`temporal-failure.ts`).
 *
 * Nothing here ever puts a token or a secret in a message: messages are built from status codes,
 * service error codes/messages and the ids the caller supplies.
 */
import { isRetryableReason, type FailureReason } from '../../domain/failure-reasons';

export type AzureService = 'token' | 'graph' | 'intune';

export interface AzureApiErrorInit {
  service: AzureService;
  reason: FailureReason;
  message: string;
  status?: number | null;
  code?: string | null;
  retryAfterMs?: number | null;
  operation?: string | null;
  deviceId?: string | null;
  userPrincipalName?: string | null;
  cause?: unknown;
}

export class AzureApiError extends Error {
  override readonly name = 'AzureApiError';
  /** HTTP status, or null when no response was received (network error, timeout, local throttle). */
  readonly status: number | null;
  /** Service error code (Graph `error.code`, AAD `error`, …), or null. */
  readonly code: string | null;
  /** Delay the server asked for (Retry-After), in ms, or null. */
  readonly retryAfterMs: number | null;
  readonly service: AzureService;
  readonly reason: FailureReason;
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

/** What the client knows about the call that failed. */
export interface CallContext {
  operation: string;
  /** A short description of the request (method and path, never a token). */
  request?: string;
  deviceId?: string | null;
  userPrincipalName?: string | null;
  /** Reason for a 404: an unknown device, user, … (default InvalidRequest). */
  notFoundReason?: FailureReason;
  /** Set when the request already failed with 401 once and the token was refreshed. */
  afterRefresh?: boolean;
  /**
   * A token call for a customer's tenant (not the partner app's own): there, "application not
   * found in the directory" means the customer's admin consent is missing or was taken away.
   */
  customerTenant?: boolean;
}

export const SERVICE_LABEL: Record<AzureService, string> = {
  token: 'token endpoint',
  graph: 'Microsoft Graph',
  intune: 'Intune partner API',
};
