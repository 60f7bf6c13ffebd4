// Typed client for the emulator's control plane. Uses the global fetch, so the calling process must
// trust the emulator CA (NODE_EXTRA_CA_CERTS). Imports types only: no server code is loaded.
import type {
  ClockView,
  ConsentAnswer,
  ConsentRevocation,
  EmulatorSettings,
  EntraDevicePatch,
  EntraDeviceView,
  FaultSpec,
  JournalEntry,
  JournalFilter,
  SeedSpec,
  TenantMessageView,
  TenantView,
} from './types';

export class EmulatorControl {
  private readonly base: string;

  constructor(baseUrl: string) {
    this.base = `${baseUrl.replace(/\/+$/, '')}/_emulator`;
  }

  /** Wipes tenants, messages, faults, the journal, the clock offset and runtime options. */
  async reset(): Promise<void> {
    await this.call('POST', '/reset');
  }

  /** Additive; seeding the same ids again updates them. */
  async seed(spec: SeedSpec): Promise<void> {
    await this.call('POST', '/seed', spec);
  }

  async setOptions(options: Partial<EmulatorSettings>): Promise<EmulatorSettings> {
    return (await this.call('POST', '/options', options)) as EmulatorSettings;
  }

  async addFault(f: FaultSpec): Promise<{ id: string }> {
    return (await this.call('POST', '/faults', f)) as { id: string };
  }

  async removeFault(id: string): Promise<void> {
    await this.call('DELETE', `/faults/${encodeURIComponent(id)}`);
  }

  async clearFaults(): Promise<void> {
    await this.call('DELETE', '/faults');
  }

  /** Shifts the emulator clock (token validity, message times) by offsetSeconds from real time. */
  async setClock(offsetSeconds: number): Promise<ClockView> {
    return (await this.call('POST', '/clock', { offsetSeconds })) as ClockView;
  }

  /** Every token issued before this call is rejected with 401 from now on. */
  async revokeTokens(): Promise<void> {
    await this.call('POST', '/revoke-tokens');
  }

  async requests(filter: JournalFilter = {}): Promise<JournalEntry[]> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, String(v));
    const qs = q.toString();
    return (await this.call('GET', `/requests${qs ? `?${qs}` : ''}`)) as JournalEntry[];
  }

  async clearRequests(): Promise<void> {
    await this.call('DELETE', '/requests');
  }

  /** null when the tenant or the device is unknown. */
  async entraDevice(tenantId: string, deviceId: string): Promise<EntraDeviceView | null> {
    const res = await fetch(`${this.base}/tenants/${encodeURIComponent(tenantId)}/devices/${encodeURIComponent(deviceId)}`);
    if (res.status === 404) return null;
    return (await this.parse(res, 'GET /tenants/…/devices/…')) as EntraDeviceView;
  }

  /** Changes what Entra holds for a device behind the connector's back (as an admin, or Entra itself, would). */
  async setEntraDevice(tenantId: string, deviceId: string, patch: EntraDevicePatch): Promise<EntraDeviceView> {
    return (await this.call(
      'PATCH',
      `/tenants/${encodeURIComponent(tenantId)}/devices/${encodeURIComponent(deviceId)}`,
      patch,
    )) as EntraDeviceView;
  }

  /** Deletes a device from Entra (Graph then answers it is not there). */
  async deleteEntraDevice(tenantId: string, deviceId: string): Promise<void> {
    await this.call('DELETE', `/tenants/${encodeURIComponent(tenantId)}/devices/${encodeURIComponent(deviceId)}`);
  }

  async messages(tenantId: string): Promise<TenantMessageView[]> {
    return (await this.call('GET', `/tenants/${encodeURIComponent(tenantId)}/messages`)) as TenantMessageView[];
  }

  async tenant(tenantId: string): Promise<TenantView> {
    return (await this.call('GET', `/tenants/${encodeURIComponent(tenantId)}`)) as TenantView;
  }

  /** A tenant with no app consented yet (tokens for it fail until consent is granted); idempotent. */
  async addTenant(tenantId: string, displayName?: string): Promise<TenantView> {
    return (await this.call('POST', '/tenants', { tenantId, ...(displayName !== undefined ? { displayName } : {}) })) as TenantView;
  }

  /** Admin consent for a registered app, as if the tenant's administrator had granted it. */
  async grantConsent(tenantId: string, clientId: string): Promise<TenantView> {
    return (await this.call('PUT', `/tenants/${encodeURIComponent(tenantId)}/consents/${encodeURIComponent(clientId)}`)) as TenantView;
  }

  /**
   * Takes consent away: `service-principal` (the enterprise app deleted: tokens get AADSTS700016) or
   * `permissions` (its grants removed: AADSTS65001). Tokens the app already holds for the tenant get 401.
   */
  async revokeConsent(tenantId: string, clientId: string, how: ConsentRevocation = 'service-principal'): Promise<void> {
    await this.call('DELETE', `/tenants/${encodeURIComponent(tenantId)}/consents/${encodeURIComponent(clientId)}?how=${how}`);
  }

  /** What the tenant's administrator answers on the admin-consent page from now on. */
  async setConsentAnswer(tenantId: string, answer: ConsentAnswer): Promise<TenantView> {
    return (await this.call('PUT', `/tenants/${encodeURIComponent(tenantId)}/consent-answer`, { answer })) as TenantView;
  }

  /** The ResyncTimestamp the next heartbeats return; null stops returning one. */
  async setResyncTimestamp(tenantId: string, iso: string | null): Promise<void> {
    await this.call('PUT', `/tenants/${encodeURIComponent(tenantId)}/resync-timestamp`, { resyncTimestamp: iso });
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    return this.parse(res, `${method} ${path}`);
  }

  private async parse(res: Response, what: string): Promise<unknown> {
    const text = await res.text();
    if (!res.ok) throw new Error(`emulator control ${what} failed with ${res.status}: ${text}`);
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  }
}
