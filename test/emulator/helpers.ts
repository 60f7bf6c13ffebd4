// Shared wiring for the emulator conformance tests: the real msal-node confidential client and the
// real Graph client, configured only as a production client would be (authority, knownAuthorities,
// baseUrl, customHosts), plus a bare fetch for the Intune partner API.
import { randomUUID } from 'node:crypto';
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import { Client } from '@microsoft/microsoft-graph-client';
import { startEmulator, type RunningEmulator } from '../../emulator';

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
export const INTUNE_SCOPE = 'https://api.manage.microsoft.com//.default';

export interface TestTenant {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export function newTenant(): TestTenant {
  return { tenantId: randomUUID(), clientId: randomUUID(), clientSecret: `secret-${randomUUID()}` };
}

export async function seedTenant(emu: RunningEmulator, t: TestTenant, extra: { roles?: string[] } = {}): Promise<void> {
  await emu.control.seed({
    tenants: [
      {
        tenantId: t.tenantId,
        apps: [{ clientId: t.clientId, clientSecret: t.clientSecret, ...(extra.roles ? { roles: extra.roles } : {}) }],
      },
    ],
  });
}

/** The emulator and the fresh tenant of the running test, read through getters once the hooks have run. */
export interface EmulatorWithTenant {
  readonly emu: RunningEmulator;
  readonly t: TestTenant;
}

/**
 * Registers the hooks every emulator test file shares: one emulator on a free port for the file,
 * closed after it, and before each test a reset plus a fresh tenant seeded with its own app.
 */
export function useEmulatorWithTenant(): EmulatorWithTenant {
  let emu: RunningEmulator;
  let t: TestTenant;

  before(async () => {
    emu = await startEmulator({ port: 0 });
  });
  after(async () => {
    await emu.close();
  });
  beforeEach(async () => {
    await emu.control.reset();
    t = newTenant();
    await seedTenant(emu, t);
  });

  return {
    get emu() {
      return emu;
    },
    get t() {
      return t;
    },
  };
}

export function makeCca(emu: RunningEmulator, t: TestTenant, auth: Partial<Configuration['auth']> = {}): ConfidentialClientApplication {
  return new ConfidentialClientApplication({
    auth: {
      clientId: t.clientId,
      clientSecret: t.clientSecret,
      authority: `${emu.url}/${t.tenantId}`,
      knownAuthorities: [`localhost:${emu.port}`],
      ...auth,
    },
  });
}

export async function accessToken(cca: ConfidentialClientApplication, scope: string): Promise<string> {
  const result = await cca.acquireTokenByClientCredential({ scopes: [scope] });
  if (!result) throw new Error('msal returned no token');
  return result.accessToken;
}

export function makeGraph(emu: RunningEmulator, cca: ConfidentialClientApplication, opts: { customHosts?: boolean } = {}): Client {
  return Client.initWithMiddleware({
    baseUrl: `${emu.url}/`,
    ...(opts.customHosts === false ? {} : { customHosts: new Set(['localhost']) }),
    authProvider: { getAccessToken: () => accessToken(cca, GRAPH_SCOPE) },
  });
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

/** A plain HTTPS call, as the connector makes to the partner API. */
export async function call(
  url: string,
  init: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // keep the raw text
  }
  return { status: res.status, headers: res.headers, body };
}

export function tenantService(emu: RunningEmulator): string {
  return `${emu.url}/intune/PartnerTenantDataSyncService`;
}

export function deviceService(emu: RunningEmulator): string {
  return `${emu.url}/intune/PartnerDeviceDataSyncService`;
}

export function messageUrl(emu: RunningEmulator, messageId: string): string {
  return `${deviceService(emu)}/DataUploadMessages(guid'${messageId}')?api-version=1.2`;
}

export async function provision(emu: RunningEmulator, t: TestTenant, token: string, provisioned: 1 | 2 = 1): Promise<RawResponse> {
  return call(`${tenantService(emu)}/PartnerTenants(guid'${t.tenantId}')?api-version=1.6`, {
    method: 'PUT',
    token,
    body: {
      Provisioned: provisioned,
      PartnerEnrollmentUrl: 'https://mdm.example.com/enroll',
      PartnerRemediationUrl: 'https://mdm.example.com/remediate',
    },
  });
}

export interface DeviceReport {
  tenantId: string;
  deviceId: string;
  userId: string;
  managed?: boolean;
  compliant?: boolean;
  lastUpdateTime: string;
  lastCheckInTime?: string;
  os?: string;
}

/** The two entities of a P4 upload (docs/microsoft-protocol.md) for one device. */
export function reportEntities(r: DeviceReport): Record<string, unknown>[] {
  return [
    {
      EntityType: 1,
      TenantId: r.tenantId,
      DeviceId: r.deviceId,
      DeviceName: 'iPhone of Alice',
      UserId: r.userId,
      DeviceManagementState: r.managed === false ? 'notManaged' : 'managed',
      LastCheckInTime: r.lastCheckInTime ?? r.lastUpdateTime,
      LastUpdateTime: r.lastUpdateTime,
      Os: r.os ?? 'iOS',
      OsVersion: '17.4',
      EasIds: [],
      State: 0,
    },
    {
      EntityType: 4,
      TenantId: r.tenantId,
      DeviceId: r.deviceId,
      UserId: r.userId,
      LastUpdateTime: r.lastUpdateTime,
      complianceStatus: r.compliant === false ? 'notCompliant' : 'compliant',
    },
  ];
}

export function uploadBody(tenantId: string, entities: unknown[], uploadTime = new Date().toISOString()): Record<string, unknown> {
  return { TenantId: tenantId, UploadTime: uploadTime, Content: JSON.stringify(entities) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
