/**
 * Each tenant's health as the worker's Microsoft calls see it, and the containment of a tenant whose
 * admin consent is gone (docs/architecture.md, "Tenants").
 *
 * - After CONSENT_FAILURES_BEFORE_REVOKED consent errors in a row (counted in Postgres, so across
 *   workers), an `active` tenant goes `consent-revoked` with a plain-words reason. From then on its
 *   activities send nothing (the state is read at most once a second per worker, and this worker
 *   knows at once): its devices' reports wait, without retrying, until a new consent activates the
 *   tenant again. Every other tenant is untouched.
 * - Token health (`tenants.token_ok`, `token_error`, `token_checked_at`) and the last throttling seen
 *   (`last_throttled_at`) are written from what the calls met, at most once a minute per tenant per
 *   worker while nothing changes.
 *
 * A tenant missing from the registry (tests that use bare tenant ids) is never contained.
 */
import { AzureApiError } from './azure/errors';
import { toTemporalFailure } from './azure/temporal-failure';
import { workerMetrics } from './worker-metrics';
import type { Db } from '../db';
import { recordTokenOk } from '../db/tenant-lifecycle';
import { countConsentFailure, getTenant, recordThrottled, recordTokenHealth, setTenantState } from '../db/tenants';
import type { Logger } from '../lib/logger';

/** Consent errors in a row after which the tenant is `consent-revoked`: a few, so one odd answer is not enough. */
export const CONSENT_FAILURES_BEFORE_REVOKED = 3;
/** How long this worker trusts the state it read. */
const STATE_TRUSTED_MS = 1_000;
/** Repeated health writes of an unchanged health are spaced by this much. */
const HEALTH_WRITE_EVERY_MS = 60_000;
const THROTTLED_WRITE_EVERY_MS = 10_000;

export function consentRevokedReason(detail: string): string {
  return (
    `Microsoft refused the partner app's tokens for this tenant ${CONSENT_FAILURES_BEFORE_REVOKED} times in a row because its ` +
    `administrator's admin consent is missing or was taken away (${detail}). Nothing is sent to Microsoft for this tenant ` +
    `until the administrator grants consent again through the tenant's consent link; its devices are then reported again.`
  );
}

export interface TenantHealth {
  /** False while the tenant is `consent-revoked`: nothing may be sent to Microsoft for it. */
  mayCallMicrosoft(tenantId: string): Promise<boolean>;
  /** A call for the tenant succeeded (so its token is good). */
  succeeded(tenantId: string): Promise<void>;
  /** A call for the tenant failed with `err` (an AzureApiError, or anything else, ignored). */
  failed(tenantId: string, err: unknown): Promise<void>;
}

/** An error that stands for the calls a `consent-revoked` tenant does not make. */
export function consentRevokedError(tenantId: string, operation: string): AzureApiError {
  return new AzureApiError({
    service: 'token',
    reason: 'ConsentRevoked',
    operation,
    message: `tenant ${tenantId} is consent-revoked: nothing is sent to Microsoft for it until its administrator grants consent again`,
  });
}

export function createTenantHealth(db: Db, logger?: Logger): TenantHealth {
  const known = new Map<string, { revoked: boolean; until: number }>();
  const lastWrite = new Map<string, { what: string; at: number }>();

  /** Runs a health write unless the same one was written recently; a failed write is only logged. */
  async function write(tenantId: string, what: string, everyMs: number, run: () => Promise<unknown>): Promise<void> {
    const key = `${tenantId}|${what.split(':')[0]}`;
    const last = lastWrite.get(key);
    if (last && last.what === what && Date.now() - last.at < everyMs) return;
    lastWrite.set(key, { what, at: Date.now() });
    try {
      await run();
    } catch (err) {
      lastWrite.delete(key);
      logger?.warn({ tenantId, err: err instanceof Error ? err.message : String(err) }, 'could not record the tenant health');
    }
  }

  return {
    async mayCallMicrosoft(tenantId) {
      const cached = known.get(tenantId);
      if (cached && Date.now() < cached.until) return !cached.revoked;
      const revoked = (await getTenant(db, tenantId))?.state === 'consent-revoked';
      known.set(tenantId, { revoked, until: Date.now() + STATE_TRUSTED_MS });
      return !revoked;
    },

    async succeeded(tenantId) {
      await write(tenantId, 'token:ok', HEALTH_WRITE_EVERY_MS, () => recordTokenOk(db, tenantId));
    },

    async failed(tenantId, err) {
      if (!(err instanceof AzureApiError)) return;
      if (err.reason === 'Throttled') {
        await write(tenantId, 'throttled', THROTTLED_WRITE_EVERY_MS, () => recordThrottled(db, tenantId));
        return;
      }
      if (err.service !== 'token') return;
      await write(tenantId, `token:${err.message}`, HEALTH_WRITE_EVERY_MS, () =>
        recordTokenHealth(db, tenantId, { ok: false, error: err.message }),
      );
      if (err.reason !== 'ConsentRevoked' || err.status === null) return;
      try {
        const failures = await countConsentFailure(db, tenantId);
        if (failures < CONSENT_FAILURES_BEFORE_REVOKED) return;
        const reason = consentRevokedReason(err.message);
        if (await setTenantState(db, tenantId, 'consent-revoked', { reason, from: ['active'] })) {
          logger?.warn({ tenantId, failures }, 'tenant consent revoked: nothing more is sent to Microsoft for it');
        }
        // Read again on the next call: revoked now, or not active (an onboarding still under way).
        known.delete(tenantId);
      } catch (dbErr) {
        logger?.warn({ tenantId, err: dbErr instanceof Error ? dbErr.message : String(dbErr) }, 'could not count a consent failure');
      }
    },
  };
}

/**
 * A call to Microsoft for a tenant: its outcome is told to the tenant's health, and its failure is
 * thrown as the activity's Temporal failure (activities/azure/temporal-failure.ts).
 */
export async function callMicrosoftFor<T>(
  health: TenantHealth | undefined,
  tenantId: string,
  context: { deviceId?: string; operation: string },
  call: () => Promise<T>,
): Promise<T> {
  try {
    const result = await call();
    await health?.succeeded(tenantId);
    return result;
  } catch (err) {
    await health?.failed(tenantId, err);
    throw workerMetrics().counted(tenantId, toTemporalFailure(err, context));
  }
}
