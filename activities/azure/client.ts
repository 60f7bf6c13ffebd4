/**
 * The connector's Microsoft client: Entra ID tokens (msal-node), Microsoft Graph (users, Intune
 * service-principal endpoint discovery) and the Intune partner compliance API (P1–P6 of
 * docs/microsoft-protocol.md).
 *
 * Configured only by `AzureCredentials` (AZURE_* / GRAPH_BASE_URL) and NODE_EXTRA_CA_CERTS: it knows
 * nothing about the emulator. It never retries by itself except for the single token refresh after a
 * 401; every other failure is thrown as an `AzureApiError` for `toTemporalFailure`
 * (temporal-failure.ts), and Temporal decides when to try again.
 */
import { randomUUID } from 'node:crypto';
import { AuthenticationHandlerOptions, type Client, type GraphRequest } from '@microsoft/microsoft-graph-client';
import type { AzureCredentials } from '../../config';
import type { Platform } from '../../domain/constants';
import { buildUploadEntities, isGuid, type DeviceUpload, type KnownDevice } from './entities';
import { AzureApiError, type CallContext } from './errors';
import {
  isBenignDeviceLookupFailure,
  knownDeviceFrom,
  knownDevicePath,
  KNOWN_DEVICE_SELECT,
  lookupBatch,
  lookupResults,
  userIdFrom,
  userPath,
} from './entra-lookup';
import { readBackBatch, readBackResponses, type ReadBackRound } from './entra-readback';
import { createGraphClient, graphCallScope } from './graph';
import { fromGraphError, fromHttpResponse, fromNetworkError, nonEmptyString } from './http-errors';
import { httpsSend, type TransportResponse } from './https-transport';
import { DEFAULT_REQUEST_TIMEOUT_MS, getMsalApp, localThrottleAfter, tokenCallScope, type TokenCallScope } from './msal';
import { fromMsalError } from './msal-errors';

export type { DeviceUpload } from './entities';

/** What the partner tells Intune about itself at onboarding (P1, P2); all optional. */
export interface PartnerSettings {
  enrollmentUrl?: string;
  remediationUrl?: string;
  policyDisplayName?: string;
}

/** How the worker builds a client: the partner settings, and whether the tenant is a customer's. */
export interface AzureClientOptions extends PartnerSettings {
  /**
   * A customer's tenant reached with the partner app's credentials (multi-tenant mode), not the
   * app's own: a token refused as "application not in the directory" then means missing consent.
   */
  customerTenant?: boolean;
}

export type UploadStatus = {
  status: 'Pending' | 'Processing' | 'Completed' | 'Failed' | string;
  errorDetail: string | null;
  completedAt: string | null;
};

export interface AzureClientLogger {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

export type Audience = 'graph' | 'intune';

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
/** The double slash is literal (docs/microsoft-protocol.md, Identity). */
export const INTUNE_SCOPE = 'https://api.manage.microsoft.com//.default';
/** appId of the Microsoft Intune first-party service principal. */
export const INTUNE_APP_ID = '0000000a-0000-0000-c000-000000000000';
const TENANT_SERVICE = 'PartnerTenantDataSyncService';
const DEVICE_SERVICE = 'PartnerDeviceDataSyncService';
const DEFAULT_POLICY_NAME = 'MDM partner compliance';
/** msal-node renews a cached token this long before it expires (DEFAULT_TOKEN_RENEWAL_OFFSET_SEC). */
const TOKEN_RENEWAL_OFFSET_MS = 300_000;

const NOOP_LOGGER: AzureClientLogger = { info: () => undefined, warn: () => undefined };

/** A Map that forgets its oldest entries beyond `max` (bounded memory for 100k+ devices). */
class BoundedMap<K, V> {
  private readonly m = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(k: K): V | undefined {
    return this.m.get(k);
  }
  clear(): void {
    this.m.clear();
  }
  set(k: K, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.max) {
      const oldest = this.m.keys().next();
      if (!oldest.done) this.m.delete(oldest.value);
    }
  }
}

function requireHttpsUrl(name: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new Error(`${name} is not a valid URL: ${value}`);
  }
  if (u.protocol !== 'https:') throw new Error(`${name} must be an https:// URL (msal-node and the Graph client require TLS): ${value}`);
  return value.replace(/\/+$/, '');
}

function lastSegment(url: string): string {
  const path = new URL(url).pathname;
  const seg = path.slice(path.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The promise kept under `key`, made once; a failed one is forgotten, so the next call tries again. */
function memoise<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = cache.get(key);
  if (!p) {
    p = make();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

export class AzureComplianceClient {
  private readonly cfg: AzureCredentials;
  private readonly partner: PartnerSettings;
  private readonly customerTenant: boolean;
  private readonly timeoutMs: number;
  private readonly logger: AzureClientLogger;
  private readonly graph: Client;
  private readonly endpoints = new Map<string, Promise<{ tenantDataSyncUrl: string; deviceDataSyncUrl: string }>>();
  private readonly onboarding = new Map<string, Promise<{ provisioned: true; policyIds: Record<string, string> }>>();
  private readonly userIds = new BoundedMap<string, string>(50_000);
  private readonly terminalSeenAt = new BoundedMap<string, string>(20_000);
  private readonly bearer = new Map<Audience, { token: string; renewAt: number }>();

  constructor(cfg: AzureCredentials, logger?: AzureClientLogger, partner: AzureClientOptions = {}) {
    const timeoutMs = cfg.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new Error(`requestTimeoutMs must be a positive number of milliseconds, got ${String(cfg.requestTimeoutMs)}`);
    for (const k of ['tenantId', 'clientId', 'clientSecret'] as const) {
      if (!cfg[k]) throw new Error(`Azure client configuration is missing ${k}`);
    }
    this.cfg = {
      ...cfg,
      authorityHost: requireHttpsUrl('AZURE_AUTHORITY_HOST', cfg.authorityHost),
      graphBaseUrl: requireHttpsUrl('GRAPH_BASE_URL', cfg.graphBaseUrl),
    };
    this.timeoutMs = timeoutMs;
    const { customerTenant, ...settings } = partner;
    this.partner = settings;
    this.customerTenant = customerTenant === true;
    this.logger = logger ?? NOOP_LOGGER;
    this.graph = createGraphClient({
      graphBaseUrl: this.cfg.graphBaseUrl,
      timeoutMs,
      // Requests pass their token explicitly (see graphGet); this is only the chain's default.
      authProvider: { getAccessToken: async () => (await this.getAccessToken('graph')).token },
    });
  }

  get tenantId(): string {
    return this.cfg.tenantId;
  }

  /**
   * Forgets the discovered endpoints, the onboarding result and the resolved user ids (not the
   * tokens: those live in the process-wide MSAL application). For a tenant that was deprovisioned
   * or whose users changed while this client lived.
   */
  resetCaches(): void {
    this.endpoints.clear();
    this.onboarding.clear();
    this.userIds.clear();
    this.terminalSeenAt.clear();
  }

  // -------------------------------------------------------------------------------------------
  // Tokens
  // -------------------------------------------------------------------------------------------

  /**
   * A client-credentials token for Graph or the Intune partner API, from msal-node's cache when it
   * still has more than 300 s to live (`fromCache: true`), from the token endpoint otherwise or when
   * `skipCache` is set.
   */
  async getAccessToken(
    audience: Audience,
    opts: { skipCache?: boolean } = {},
  ): Promise<{ token: string; fromCache: boolean; expiresOn: Date | null }> {
    const scope = audience === 'graph' ? GRAPH_SCOPE : INTUNE_SCOPE;
    const app = getMsalApp(this.cfg);
    const call: TokenCallScope = { timeoutMs: this.timeoutMs };
    const skipCache = opts.skipCache === true;
    const ctx: CallContext = {
      operation: `getAccessToken(${audience})`,
      request: `POST /${this.cfg.tenantId}/oauth2/v2.0/token`,
      customerTenant: this.customerTenant,
    };
    try {
      const result = await tokenCallScope.run(call, () => app.cca.acquireTokenByClientCredential({ scopes: [scope], skipCache }));
      if (!result || !result.accessToken) {
        throw new AzureApiError({
          service: 'token',
          reason: 'Transient',
          message: `token endpoint returned no access token for ${audience}`,
          operation: ctx.operation,
        });
      }
      if (!result.fromCache) {
        this.logger.info(
          { audience, skipCache, expiresOn: result.expiresOn ? result.expiresOn.toISOString() : null },
          'acquired Azure access token',
        );
      }
      return { token: result.accessToken, fromCache: result.fromCache, expiresOn: result.expiresOn ?? null };
    } catch (err) {
      if (err instanceof AzureApiError) throw err;
      const obs = call.observation;
      const mapped = fromMsalError(err, ctx, obs, localThrottleAfter(app, scope, obs));
      this.logger.warn(
        { audience, reason: mapped.reason, status: mapped.status, code: mapped.code },
        `Azure token request failed: ${mapped.message}`,
      );
      throw mapped;
    }
  }

  /**
   * The bearer token for a request: kept here until MSAL itself would renew it (300 s before it
   * expires), so a request does not pay for a token-cache lookup; `refresh` fetches a new one.
   */
  private async bearerToken(audience: Audience, refresh = false): Promise<string> {
    const kept = this.bearer.get(audience);
    if (!refresh && kept && Date.now() < kept.renewAt) return kept.token;
    const t = await this.getAccessToken(audience, refresh ? { skipCache: true } : {});
    this.bearer.set(audience, { token: t.token, renewAt: t.expiresOn ? t.expiresOn.getTime() - TOKEN_RENEWAL_OFFSET_MS : 0 });
    return t.token;
  }

  // -------------------------------------------------------------------------------------------
  // Transport: Graph (SDK, no retry middleware) and the partner API, both over https-transport.ts
  // -------------------------------------------------------------------------------------------

  /**
   * Sends a request with the audience's bearer token; when Microsoft answers 401 (`send` throws an
   * AzureApiError with status 401), fetches a fresh token (`skipCache`) and sends it once more.
   */
  private async withTokenRefresh<T>(audience: Audience, send: (token: string, afterRefresh: boolean) => Promise<T>): Promise<T> {
    try {
      return await send(await this.bearerToken(audience), false);
    } catch (err) {
      if (!(err instanceof AzureApiError) || err.status !== 401 || err.service === 'token') throw err;
      this.logger.warn(
        { operation: err.operation, code: err.code },
        `${audience === 'graph' ? 'Graph' : 'Intune partner API'} answered 401: refreshing the token once`,
      );
      return send(await this.bearerToken(audience, true), true);
    }
  }

  /** A Graph GET (the SDK without its retry middleware). */
  private graphGet<T>(path: string, ctx: CallContext, build?: (r: GraphRequest) => GraphRequest): Promise<T> {
    return this.graphCall<T>('GET', path, ctx, build);
  }

  /** A Graph request with the graph token, refreshed once on 401; failures mapped to AzureApiError. */
  private graphCall<T>(
    method: 'GET' | 'POST',
    path: string,
    ctx: CallContext,
    build?: (r: GraphRequest) => GraphRequest,
    body?: unknown,
  ): Promise<T> {
    const request = `${method} /v1.0${path}`;
    return this.withTokenRefresh('graph', async (token, afterRefresh) => {
      let req = this.graph.api(path).middlewareOptions([new AuthenticationHandlerOptions({ getAccessToken: async () => token })]);
      if (build) req = build(req);
      const scope: { headers?: Headers } = {};
      try {
        return (await graphCallScope.run(scope, () => (method === 'GET' ? req.get() : req.post(body)))) as T;
      } catch (err) {
        throw fromGraphError(err, { ...ctx, request, afterRefresh }, this.timeoutMs, scope.headers);
      }
    });
  }

  /** A partner-API request. `accept` lists non-2xx statuses the caller handles. */
  private intune(
    method: 'GET' | 'PUT' | 'POST',
    url: string,
    body: unknown,
    ctx: CallContext,
    opts: { accept?: number[]; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: unknown }> {
    const request = `${method} ${lastSegment(url)}`;
    return this.withTokenRefresh('intune', async (token, afterRefresh) => {
      let response: TransportResponse;
      try {
        response = await httpsSend(url, {
          method,
          headers: {
            Authorization: `Bearer ${token}`,
            Accept: 'application/json',
            'client-request-id': randomUUID(),
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
            ...(opts.headers ?? {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          timeoutMs: this.timeoutMs,
        });
      } catch (err) {
        throw fromNetworkError('intune', err, { ...ctx, request }, this.timeoutMs);
      }
      const text = response.text;
      const parsed = parseJson(text);
      if ((response.status >= 200 && response.status < 300) || (opts.accept ?? []).includes(response.status)) {
        return { status: response.status, body: parsed ?? null };
      }
      throw fromHttpResponse('intune', response.status, response.headers, parsed === undefined ? text : parsed, {
        ...ctx,
        request,
        afterRefresh,
      });
    });
  }

  // -------------------------------------------------------------------------------------------
  // Discovery and onboarding
  // -------------------------------------------------------------------------------------------

  /** G6: the Intune partner endpoints of the tenant, through its Intune service principal. Cached for the client's life. */
  discoverEndpoints(): Promise<{ tenantDataSyncUrl: string; deviceDataSyncUrl: string }> {
    return memoise(this.endpoints, this.cfg.tenantId.toLowerCase(), () => this.doDiscoverEndpoints());
  }

  private async doDiscoverEndpoints(): Promise<{ tenantDataSyncUrl: string; deviceDataSyncUrl: string }> {
    const ctx: CallContext = { operation: 'discoverEndpoints' };
    const sps = await this.graphGet<{ value?: Array<{ id?: string }> }>('/servicePrincipals', ctx, (r) =>
      r.filter(`appId eq '${INTUNE_APP_ID}'`),
    );
    const spId = nonEmptyString(sps?.value?.[0]?.id);
    if (!spId) {
      throw new AzureApiError({
        service: 'graph',
        reason: 'TenantNotProvisioned',
        message: `tenant ${this.cfg.tenantId} has no Microsoft Intune service principal (appId ${INTUNE_APP_ID}): is Intune licensed and the partner app consented?`,
        operation: ctx.operation,
      });
    }
    const eps = await this.graphGet<{ value?: Array<{ providerName?: string; uri?: string }> }>(
      `/servicePrincipals/${encodeURIComponent(spId)}/endPoints`,
      ctx,
    );
    const find = (name: string): string | null => {
      const uri = nonEmptyString(eps?.value?.find((e) => e.providerName === name)?.uri);
      return uri ? uri.replace(/\/+$/, '') : null;
    };
    const tenantDataSyncUrl = find(TENANT_SERVICE);
    const deviceDataSyncUrl = find(DEVICE_SERVICE);
    if (!tenantDataSyncUrl || !deviceDataSyncUrl) {
      throw new AzureApiError({
        service: 'graph',
        reason: 'TenantNotProvisioned',
        message: `the Intune service principal of tenant ${this.cfg.tenantId} publishes no ${!tenantDataSyncUrl ? TENANT_SERVICE : DEVICE_SERVICE} endpoint`,
        operation: ctx.operation,
      });
    }
    this.logger.info({ tenantId: this.cfg.tenantId, tenantDataSyncUrl, deviceDataSyncUrl }, 'discovered Intune partner endpoints');
    return { tenantDataSyncUrl, deviceDataSyncUrl };
  }

  /**
   * P1 (`Provisioned: 1`), then P2 per platform: create the partner compliance policy, or on 409 look
   * the existing one up and reuse it. Idempotent; cached for the client's life once it succeeded.
   */
  ensureTenantOnboarded(platforms: Platform[] = ['iOS', 'Android']): Promise<{ provisioned: true; policyIds: Record<string, string> }> {
    const list = [...new Set(platforms)].sort();
    return memoise(this.onboarding, `${this.cfg.tenantId.toLowerCase()}|${list.join(',')}`, () => this.doOnboard(list));
  }

  private async doOnboard(platforms: Platform[]): Promise<{ provisioned: true; policyIds: Record<string, string> }> {
    const { tenantDataSyncUrl } = await this.discoverEndpoints();
    const tenantId = this.cfg.tenantId;
    const ctx: CallContext = { operation: 'ensureTenantOnboarded' };
    const partner = this.partner;
    await this.intune(
      'PUT',
      `${tenantDataSyncUrl}/PartnerTenants(guid'${tenantId}')?api-version=1.6`,
      {
        Provisioned: 1,
        ...(partner.enrollmentUrl ? { PartnerEnrollmentUrl: partner.enrollmentUrl } : {}),
        ...(partner.remediationUrl ? { PartnerRemediationUrl: partner.remediationUrl } : {}),
      },
      ctx,
    );
    const policyIds: Record<string, string> = {};
    for (const platform of platforms) {
      policyIds[platform] = await this.ensurePolicy(tenantDataSyncUrl, platform);
    }
    this.logger.info({ tenantId, policyIds }, 'tenant provisioned for partner compliance');
    return { provisioned: true, policyIds };
  }

  /**
   * P1 with `Provisioned: 2`: the tenant no longer has this partner (offboarding). Forgets what this
   * client cached about the tenant, so a later onboarding provisions it again.
   */
  async deprovisionTenant(): Promise<void> {
    const { tenantDataSyncUrl } = await this.discoverEndpoints();
    await this.intune(
      'PUT',
      `${tenantDataSyncUrl}/PartnerTenants(guid'${this.cfg.tenantId}')?api-version=1.6`,
      { Provisioned: 2 },
      { operation: 'deprovisionTenant' },
    );
    this.resetCaches();
    this.logger.info({ tenantId: this.cfg.tenantId }, 'tenant deprovisioned for partner compliance');
  }

  private async ensurePolicy(tenantDataSyncUrl: string, platform: Platform): Promise<string> {
    const ctx: CallContext = { operation: 'ensureTenantOnboarded' };
    const displayName = `${this.partner.policyDisplayName ?? DEFAULT_POLICY_NAME} (${platform})`;
    const created = await this.intune(
      'POST',
      `${tenantDataSyncUrl}/PartnerCompliancePolicies?api-version=1.6`,
      {
        DisplayName: displayName,
        Description: `Compliance of ${platform} devices is reported by the MDM partner`,
        Platform: platform,
        PartnerManagedCompliance: true,
      },
      ctx,
      { accept: [409] },
    );
    if (created.status !== 409) {
      const id = nonEmptyString((created.body as { Id?: unknown } | null)?.Id);
      if (!id)
        throw new AzureApiError({
          service: 'intune',
          reason: 'Transient',
          status: created.status,
          message: `PartnerCompliancePolicies POST for ${platform} returned HTTP ${created.status} without an Id`,
          operation: ctx.operation,
        });
      return id;
    }
    // 409: a policy for this platform exists already; find it and reuse it.
    const listed = await this.intune('GET', `${tenantDataSyncUrl}/PartnerCompliancePolicies?api-version=1.6`, undefined, ctx);
    const value = ((listed.body as { value?: unknown } | null)?.value ?? []) as Array<{
      Id?: unknown;
      Platform?: unknown;
      DisplayName?: unknown;
    }>;
    const match =
      value.find((p) => typeof p.Platform === 'string' && p.Platform.toLowerCase() === platform.toLowerCase()) ??
      value.find((p) => p.DisplayName === displayName) ??
      (value.length === 1 && value[0].Platform === undefined ? value[0] : undefined);
    const id = nonEmptyString(match?.Id);
    if (!id) {
      throw new AzureApiError({
        service: 'intune',
        reason: 'InvalidRequest',
        status: 409,
        code: 'Conflict',
        message: `PartnerCompliancePolicies answered 409 for ${platform} but lists no ${platform} policy`,
        operation: ctx.operation,
      });
    }
    this.logger.info({ platform, policyId: id }, 'reusing the existing partner compliance policy');
    return id;
  }

  // -------------------------------------------------------------------------------------------
  // Devices
  // -------------------------------------------------------------------------------------------

  /** G5: the Entra object id of a user, by UPN. Cached per tenant + UPN (case-insensitive). */
  async resolveUserId(upn: string): Promise<string> {
    return this.resolveUser(upn, null);
  }

  private async resolveUser(upn: string, deviceId: string | null): Promise<string> {
    const cached = this.cachedUserId(upn, deviceId);
    if (cached) return cached;
    const ctx: CallContext = { operation: 'resolveUserId', userPrincipalName: upn, deviceId, notFoundReason: 'UserNotFound' };
    const user = userIdFrom(await this.graphGet<unknown>(userPath(upn), ctx), upn, deviceId);
    if (user instanceof AzureApiError) throw user;
    this.rememberUserId(upn, user.id);
    return user.id;
  }

  /** The user's object id if this client resolved it before; a blank UPN is refused at once. */
  private cachedUserId(upn: string, deviceId: string | null): string | undefined {
    if (!upn || !upn.trim()) {
      throw new AzureApiError({
        service: 'graph',
        reason: 'UserNotFound',
        message: `no user principal name is known${deviceId ? ` for device ${deviceId}` : ''}`,
        operation: 'resolveUserId',
        deviceId,
      });
    }
    return this.userIds.get(this.userKey(upn));
  }

  private rememberUserId(upn: string, id: string): void {
    this.userIds.set(this.userKey(upn), id);
  }

  private userKey(upn: string): string {
    return `${this.cfg.tenantId.toLowerCase()}|${upn.toLowerCase()}`;
  }

  /**
   * What an upload needs from the directory: the user's object id, and, when the MDM sent no
   * inventory, Entra's name and OS of the device. A new device needs both: they go in one Graph
   * batch (activities/azure/entra-lookup.ts).
   */
  private async directoryLookups(u: DeviceUpload): Promise<{ userId: string; known: KnownDevice | undefined }> {
    const needDevice = !u.inventory && !u.knownDevice;
    const userId = u.userId ?? this.cachedUserId(u.userPrincipalName, u.azureDeviceId);
    if (userId === undefined && needDevice) {
      const found = await this.graphCall<unknown>(
        'POST',
        '/$batch',
        { operation: 'uploadDeviceState', deviceId: u.azureDeviceId, userPrincipalName: u.userPrincipalName },
        undefined,
        lookupBatch(u.userPrincipalName, u.azureDeviceId),
      );
      const { user, device } = lookupResults(found, u.userPrincipalName, u.azureDeviceId);
      if (user instanceof AzureApiError) throw user;
      this.rememberUserId(u.userPrincipalName, user.id);
      return { userId: user.id, known: this.knownOrBenign(device, u.azureDeviceId) };
    }
    return {
      userId: userId ?? (await this.resolveUser(u.userPrincipalName, u.azureDeviceId)),
      known: u.inventory ? undefined : (u.knownDevice ?? (await this.knownDevice(u.azureDeviceId))),
    };
  }

  /**
   * P4: PUT one upload message (inventory + compliance entities). The message id comes from the
   * caller, so a retried PUT is the same message: a 409 means an earlier attempt was accepted.
   */
  async uploadDeviceState(u: DeviceUpload): Promise<{ messageId: string; userId: string; knownDevice?: KnownDevice }> {
    const ctx: CallContext = { operation: 'uploadDeviceState', deviceId: u.azureDeviceId };
    if (!isGuid(u.messageId)) {
      throw new AzureApiError({
        service: 'intune',
        reason: 'InvalidRequest',
        message: `upload message id ${u.messageId} is not a GUID`,
        operation: ctx.operation,
        deviceId: u.azureDeviceId,
      });
    }
    if (!isGuid(u.azureDeviceId)) {
      throw new AzureApiError({
        service: 'intune',
        reason: 'DeviceNotFound',
        message: `Azure device id ${u.azureDeviceId} of the device is not a GUID`,
        operation: ctx.operation,
        deviceId: u.azureDeviceId,
      });
    }
    const { userId, known } = await this.directoryLookups(u);
    const { deviceDataSyncUrl } = await this.discoverEndpoints();
    const tenantId = this.cfg.tenantId;
    const entities = buildUploadEntities(tenantId, userId, u, known ?? {});
    const res = await this.intune(
      'PUT',
      `${deviceDataSyncUrl}/DataUploadMessages(guid'${u.messageId}')?api-version=1.2`,
      { TenantId: tenantId, UploadTime: new Date().toISOString(), Content: JSON.stringify(entities) },
      ctx,
      { accept: [409] },
    );
    if (res.status === 409) {
      this.logger.info(
        { deviceId: u.azureDeviceId, messageId: u.messageId },
        'upload message already accepted earlier (409): treating the PUT as done',
      );
    }
    return { messageId: u.messageId, userId, ...(known ? { knownDevice: known } : {}) };
  }

  /**
   * G2 `devices(deviceId='…')`: Entra's name and OS for a device with no inventory yet. A 404 (not in
   * Entra: the upload message will say so) or 403 (no Device.Read permission) leaves them unknown.
   */
  private async knownDevice(azureDeviceId: string): Promise<KnownDevice> {
    let found: KnownDevice | AzureApiError;
    try {
      const d = await this.graphGet<unknown>(
        knownDevicePath(azureDeviceId),
        { operation: 'uploadDeviceState', deviceId: azureDeviceId, notFoundReason: 'DeviceNotFound' },
        (r) => r.select([...KNOWN_DEVICE_SELECT]),
      );
      found = knownDeviceFrom(d);
    } catch (err) {
      if (!(err instanceof AzureApiError)) throw err;
      found = err;
    }
    return this.knownOrBenign(found, azureDeviceId);
  }

  /** A G2 answer, or {} for a failure that only leaves the name and OS unknown; other failures are thrown. */
  private knownOrBenign(found: KnownDevice | AzureApiError, azureDeviceId: string): KnownDevice {
    if (!(found instanceof AzureApiError)) return found;
    if (!isBenignDeviceLookupFailure(found)) throw found;
    this.logger.info(
      { deviceId: azureDeviceId, reason: found.reason },
      'Entra device details unavailable; sending the inventory entity from what is known',
    );
    return {};
  }

  /**
   * G7 + G1: what Entra holds for up to 20 devices, in one JSON batch (the drift reconciliation).
   * Sub-requests Microsoft throttled come back in `retry`: the Graph client never retries inside a
   * batch, and the caller sends them again after the delay (activities/azure/entra-readback.ts).
   */
  async readEntraDevicesBatch(azureDeviceIds: string[]): Promise<ReadBackRound> {
    const body = await this.graphCall<unknown>(
      'POST',
      '/$batch',
      { operation: 'readEntraDevices' },
      undefined,
      readBackBatch(azureDeviceIds),
    );
    return readBackResponses(azureDeviceIds, body);
  }

  /**
   * P5: the processing status of an upload message. `completedAt` is the service's
   * `CompletedDateTime` when it sends one, else the time this client first saw a terminal status.
   */
  async getUploadStatus(messageId: string): Promise<UploadStatus> {
    const ctx: CallContext = { operation: 'getUploadStatus' };
    if (!isGuid(messageId)) {
      throw new AzureApiError({
        service: 'intune',
        reason: 'InvalidRequest',
        message: `upload message id ${messageId} is not a GUID`,
        operation: ctx.operation,
      });
    }
    const { deviceDataSyncUrl } = await this.discoverEndpoints();
    const res = await this.intune('GET', `${deviceDataSyncUrl}/DataUploadMessages(guid'${messageId}')?api-version=1.2`, undefined, ctx);
    const body = (res.body ?? {}) as { Status?: unknown; ErrorDetail?: unknown; CompletedDateTime?: unknown };
    const status = nonEmptyString(body.Status);
    if (!status) {
      throw new AzureApiError({
        service: 'intune',
        reason: 'Transient',
        status: res.status,
        message: `status of upload message ${messageId} has no Status`,
        operation: ctx.operation,
      });
    }
    const terminal = status === 'Completed' || status === 'Failed';
    let completedAt: string | null = null;
    if (terminal) {
      completedAt = nonEmptyString(body.CompletedDateTime);
      if (!completedAt) {
        const key = messageId.toLowerCase();
        completedAt = this.terminalSeenAt.get(key) ?? new Date().toISOString();
        this.terminalSeenAt.set(key, completedAt);
      }
    }
    return { status, errorDetail: nonEmptyString(body.ErrorDetail), completedAt };
  }

  /** P6: the tenant heartbeat; returns Microsoft's ResyncTimestamp when it asks for a full resync. */
  async sendHeartbeat(): Promise<{ at: string; resyncTimestamp: string | null }> {
    const { tenantDataSyncUrl } = await this.discoverEndpoints();
    const at = new Date().toISOString();
    const res = await this.intune(
      'PUT',
      `${tenantDataSyncUrl}/PartnerTenantHeartbeat(guid'${this.cfg.tenantId}')?api-version=1.6`,
      { Timestamp: at },
      { operation: 'sendHeartbeat' },
      { headers: { Prefer: 'return-content' } },
    );
    return { at, resyncTimestamp: nonEmptyString((res.body as { ResyncTimestamp?: unknown } | null)?.ResyncTimestamp) };
  }
}
