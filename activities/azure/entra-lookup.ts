/**
 * A new device's two directory lookups, its user's object id (G5) and Entra's name and OS of the
 * device (G2), in one Graph JSON batch (G7) instead of two requests: one HTTPS exchange, one pass
 * through the Graph client, one request for the service to parse. Microsoft still counts and
 * throttles each item on its own, so the budget spent is the same; only the overhead per request
 * goes. Each item keeps the meaning it has on its own (docs/microsoft-protocol.md, "A new device's
 * lookups in one batch"): a user Graph cannot find fails the report, a device it cannot find or may
 * not show leaves the name and OS unknown, anything else (429, 5xx) fails the call as the single
 * request would, for Temporal to retry.
 */
import type { KnownDevice } from './entities';
import { AzureApiError, type CallContext } from './errors';
import { answersById, itemHeader, type BatchRequestBody } from './graph-batch';
import { fromHttpResponse, nonEmptyString } from './http-errors';

/** The G2 item's `$select`. */
export const KNOWN_DEVICE_SELECT = ['displayName', 'operatingSystem'] as const;

/** The path of G5 for a UPN: OData quote doubling, then percent-encoding of what a path cannot hold ('@' stays). */
export function userPath(upn: string): string {
  return `/users('${encodeURIComponent(upn.replace(/'/g, "''")).replace(/%40/g, '@')}')`;
}

/** The path of G2 for an Azure device id (a GUID, checked by the caller). */
export function knownDevicePath(azureDeviceId: string): string {
  return `/devices(deviceId='${azureDeviceId}')`;
}

const USER_ITEM = 'user';
const DEVICE_ITEM = 'device';

/** The `$batch` body of both lookups. */
export function lookupBatch(upn: string, azureDeviceId: string): BatchRequestBody {
  return {
    requests: [
      { id: USER_ITEM, method: 'GET', url: userPath(upn) },
      { id: DEVICE_ITEM, method: 'GET', url: `${knownDevicePath(azureDeviceId)}?$select=${KNOWN_DEVICE_SELECT.join(',')}` },
    ],
  };
}

/** What each lookup answered: a value, or the error the single request would have thrown. */
export interface LookupResults {
  user: { id: string } | AzureApiError;
  device: KnownDevice | AzureApiError;
}

/** G5's answer: the user's object id, or the retryable failure of an answer without one. */
export function userIdFrom(body: unknown, upn: string, deviceId: string | null): { id: string } | AzureApiError {
  const id = nonEmptyString((body as { id?: unknown } | null)?.id);
  if (id) return { id };
  return new AzureApiError({
    service: 'graph',
    reason: 'Transient',
    message: `Graph returned user ${upn} without an id`,
    operation: 'resolveUserId',
    userPrincipalName: upn,
    deviceId,
  });
}

/** G2's answer: Entra's name and OS of the device, each null when it has none. */
export function knownDeviceFrom(body: unknown): KnownDevice {
  const d = body as { displayName?: unknown; operatingSystem?: unknown } | null;
  return { displayName: nonEmptyString(d?.displayName), operatingSystem: nonEmptyString(d?.operatingSystem) };
}

/**
 * Sorts the batch's answer (items in any order, matched by id). An item missing from the answer is a
 * retryable failure of that lookup, as a request that got no answer would be.
 */
export function lookupResults(body: unknown, upn: string, azureDeviceId: string): LookupResults {
  const byId = answersById(body);

  const item = (id: string, request: string, ctx: CallContext): { body: unknown } | AzureApiError => {
    const r = byId.get(id);
    const status = typeof r?.status === 'number' ? r.status : 0;
    if (status >= 200 && status < 300) return { body: r!.body ?? null };
    if (status === 0) {
      return new AzureApiError({
        service: 'graph',
        reason: 'Transient',
        message: `Microsoft Graph answered the batch without its ${request} item`,
        operation: ctx.operation,
        deviceId: ctx.deviceId ?? null,
        userPrincipalName: ctx.userPrincipalName ?? null,
      });
    }
    const headers = { get: (name: string) => itemHeader(r?.headers, name) };
    return fromHttpResponse('graph', status, headers, r?.body ?? null, { ...ctx, request });
  };

  const userCtx: CallContext = {
    operation: 'resolveUserId',
    userPrincipalName: upn,
    deviceId: azureDeviceId,
    notFoundReason: 'UserNotFound',
  };
  const userAnswer = item(USER_ITEM, `GET /v1.0${userPath(upn)} (in $batch)`, userCtx);
  const user = userAnswer instanceof AzureApiError ? userAnswer : userIdFrom(userAnswer.body, upn, azureDeviceId);

  const deviceCtx: CallContext = { operation: 'uploadDeviceState', deviceId: azureDeviceId, notFoundReason: 'DeviceNotFound' };
  const deviceAnswer = item(DEVICE_ITEM, `GET /v1.0${knownDevicePath(azureDeviceId)} (in $batch)`, deviceCtx);
  const device = deviceAnswer instanceof AzureApiError ? deviceAnswer : knownDeviceFrom(deviceAnswer.body);
  return { user, device };
}

/** A G2 failure that only leaves the name and OS unknown: Entra has no such device, or we may not read it. */
export function isBenignDeviceLookupFailure(err: unknown): boolean {
  return err instanceof AzureApiError && (err.reason === 'DeviceNotFound' || err.reason === 'Forbidden');
}
