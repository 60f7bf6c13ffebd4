// The emulator's in-memory world: tenants with their apps, users, Entra devices and Intune partner
// state, plus the settings and the clock. Nothing persists; reset() returns to the start options.
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { newId } from './http';
import type { ConsentAnswer, ConsentRevocation, EmulatorSettings, MessageStatus, SeedApp, SeedSpec } from './types';

/** Graph permissions plus the Intune partner permission, for apps seeded without roles. */
export const DEFAULT_APP_ROLES = ['Device.ReadWrite.All', 'User.Read.All', 'Application.Read.All', 'update_device_attributes'];

export const INTUNE_APP_ID = '0000000a-0000-0000-c000-000000000000';

export interface AppCertificate {
  x5t: string;
  x5tS256: string;
  publicKey: KeyObject;
}

export interface App {
  clientId: string;
  clientSecret: string;
  roles: string[];
  certificates: AppCertificate[];
  /** Empty: the admin-consent page accepts any http(s) reply URL. */
  redirectUris: string[];
}

export interface User {
  id: string;
  userPrincipalName: string;
  displayName: string;
}

export interface Device {
  id: string;
  deviceId: string;
  displayName: string;
  operatingSystem: string | null;
  operatingSystemVersion: string | null;
  accountEnabled: boolean;
  isCompliant: boolean | null;
  isManaged: boolean | null;
  complianceExpirationDateTime: string | null;
  registrationDateTime: string;
  extensionAttributes: Record<string, string | null>;
  lastCheckInTime: string | null;
  inventory: Record<string, unknown> | null;
  /** LastUpdateTime (ms) of the inventory / compliance entity last applied, for message ordering. */
  inventoryUpdatedAt: number | null;
  complianceUpdatedAt: number | null;
}

export interface UploadMessage {
  messageId: string;
  /** TenantId + Content: what makes a retried PUT "the same message". */
  identity: string;
  entities: Record<string, unknown>[];
  status: MessageStatus;
  polls: number;
  receivedAt: string;
  completedAt: string | null;
  errorDetail: string | null;
}

export interface Policy {
  Id: string;
  PartnerPolicyId: string;
  DisplayName: string;
  Description: string;
  Platform: string;
  PartnerManagedCompliance: boolean;
}

export interface Tenant {
  tenantId: string;
  displayName: string | null;
  /** Apps with admin consent here (their service principals), by lower-cased client id. */
  apps: Map<string, App>;
  consentGrantedAt: Map<string, string>;
  /** Consents taken away (and not granted again), by lower-cased client id. */
  revokedConsents: Map<string, { clientId: string; revokedAt: string; how: ConsentRevocation }>;
  /** What the admin answers on the admin-consent page. */
  consentAnswer: ConsentAnswer;
  /** Per client id: tokens with a serial at or below it were issued before a revocation and are refused. */
  tokensRevokedThrough: Map<string, number>;
  users: Map<string, User>;
  devices: Map<string, Device>;
  /**
   * `users` by lower-cased UPN and `devices` by Entra device id, kept beside them (putUser,
   * putDevice, removeDevice): Graph looks both up by those keys on every report, and a scan would
   * cost the emulator time in proportion to the fleet, which the real service does not charge.
   */
  usersByUpn: Map<string, User>;
  devicesByDeviceId: Map<string, Device>;
  /** Entra device ids deleted through the control plane: autoRegister does not bring them back. */
  deletedDeviceIds: Set<string>;
  provisioned: 0 | 1 | 2;
  partnerKey: string;
  enrollmentUrl: string | null;
  remediationUrl: string | null;
  intuneServicePrincipalId: string;
  policies: Policy[];
  assignments: Array<{ policyId: string; assignments: string[] }>;
  lastHeartbeatAt: string | null;
  heartbeats: number;
  resyncTimestamp: string | null;
  messages: Map<string, UploadMessage>;
}

export const DEFAULT_SETTINGS: EmulatorSettings = {
  autoRegister: false,
  pollsBeforeTerminal: 1,
  tokenLifetimeSeconds: 3599,
  allowAppDeviceDelete: false,
  throttle: {},
};

function base64url(buf: Buffer): string {
  return buf.toString('base64url');
}

function parseCertificate(pem: string): AppCertificate {
  const cert = new X509Certificate(pem);
  return {
    x5t: base64url(createHash('sha1').update(cert.raw).digest()),
    x5tS256: base64url(createHash('sha256').update(cert.raw).digest()),
    publicKey: cert.publicKey,
  };
}

export class EmulatorState {
  settings: EmulatorSettings;
  clockOffsetSeconds = 0;
  readonly tenants = new Map<string, Tenant>();
  /** Every app registration known, by lower-cased client id: a multi-tenant app can be consented to in any tenant. */
  readonly apps = new Map<string, App>();

  constructor(
    private readonly startSettings: EmulatorSettings,
    private readonly startSeed?: SeedSpec,
  ) {
    this.settings = { ...startSettings };
    if (startSeed) this.seed(startSeed);
  }

  /** Emulator time: real time shifted by the clock offset. Token validity and message times use it. */
  now(): Date {
    return new Date(Date.now() + this.clockOffsetSeconds * 1000);
  }

  reset(): void {
    this.tenants.clear();
    this.apps.clear();
    this.settings = { ...this.startSettings };
    this.clockOffsetSeconds = 0;
    if (this.startSeed) this.seed(this.startSeed);
  }

  tenant(tenantId: string): Tenant | undefined {
    return this.tenants.get(tenantId.toLowerCase());
  }

  ensureTenant(tenantId: string): Tenant {
    const key = tenantId.toLowerCase();
    let t = this.tenants.get(key);
    if (!t) {
      t = {
        tenantId: key,
        displayName: null,
        apps: new Map(),
        consentGrantedAt: new Map(),
        revokedConsents: new Map(),
        consentAnswer: 'grant',
        tokensRevokedThrough: new Map(),
        users: new Map(),
        devices: new Map(),
        usersByUpn: new Map(),
        devicesByDeviceId: new Map(),
        deletedDeviceIds: new Set(),
        provisioned: 0,
        partnerKey: newId(),
        enrollmentUrl: null,
        remediationUrl: null,
        intuneServicePrincipalId: newId(),
        policies: [],
        assignments: [],
        lastHeartbeatAt: null,
        heartbeats: 0,
        resyncTimestamp: null,
        messages: new Map(),
      };
      this.tenants.set(key, t);
    }
    return t;
  }

  /** Additive; seeding the same ids again updates them in place. */
  seed(spec: SeedSpec): void {
    for (const a of spec.apps ?? []) this.registerApp(a);
    for (const st of spec.tenants) {
      const t = this.ensureTenant(st.tenantId);
      if (st.displayName !== undefined) t.displayName = st.displayName;
      for (const a of st.apps ?? []) this.grantConsent(t, this.registerApp(a));
      for (const u of st.users ?? []) {
        const existing = u.id ? t.users.get(u.id.toLowerCase()) : findUser(t, u.userPrincipalName);
        const id = (u.id ?? existing?.id ?? newId()).toLowerCase();
        putUser(t, {
          id,
          userPrincipalName: u.userPrincipalName,
          displayName: u.displayName ?? u.userPrincipalName.split('@')[0] ?? '',
        });
      }
      for (const d of st.devices ?? []) {
        const existing = d.id ? t.devices.get(d.id.toLowerCase()) : findDevice(t, d.deviceId);
        const device = existing ?? this.newDevice(t, d.deviceId, d.id);
        t.deletedDeviceIds.delete(d.deviceId.toLowerCase());
        if (device.deviceId !== d.deviceId.toLowerCase()) {
          removeDevice(t, device);
          device.deviceId = d.deviceId.toLowerCase();
          putDevice(t, device);
        }
        if (d.displayName !== undefined) device.displayName = d.displayName;
        if (d.operatingSystem !== undefined) device.operatingSystem = d.operatingSystem;
        if (d.operatingSystemVersion !== undefined) device.operatingSystemVersion = d.operatingSystemVersion;
      }
    }
  }

  registerApp(a: SeedApp): App {
    const app: App = {
      clientId: a.clientId,
      clientSecret: a.clientSecret,
      roles: a.roles ?? [...DEFAULT_APP_ROLES],
      certificates: (a.certificatePems ?? []).map(parseCertificate),
      redirectUris: a.redirectUris ?? [],
    };
    this.apps.set(a.clientId.toLowerCase(), app);
    return app;
  }

  app(clientId: string): App | undefined {
    return this.apps.get(clientId.toLowerCase());
  }

  /** Admin consent: the app's service principal now exists in the tenant with the app's permissions. */
  grantConsent(t: Tenant, app: App): void {
    const key = app.clientId.toLowerCase();
    t.apps.set(key, app);
    t.consentGrantedAt.set(key, this.now().toISOString());
    t.revokedConsents.delete(key);
  }

  /**
   * false when the app had no consent in the tenant. The tokens it holds for the tenant (serials up to
   * lastTokenSerial) stop working at once, so a client notices without waiting for them to expire.
   */
  revokeConsent(t: Tenant, clientId: string, how: ConsentRevocation, lastTokenSerial: number): boolean {
    const key = clientId.toLowerCase();
    const app = t.apps.get(key);
    if (!app) return false;
    t.apps.delete(key);
    t.consentGrantedAt.delete(key);
    t.tokensRevokedThrough.set(key, lastTokenSerial);
    t.revokedConsents.set(key, { clientId: app.clientId, revokedAt: this.now().toISOString(), how });
    return true;
  }

  newDevice(t: Tenant, deviceId: string, id?: string): Device {
    const device: Device = {
      id: (id ?? newId()).toLowerCase(),
      deviceId: deviceId.toLowerCase(),
      displayName: deviceId,
      operatingSystem: null,
      operatingSystemVersion: null,
      accountEnabled: true,
      isCompliant: null,
      isManaged: null,
      complianceExpirationDateTime: null,
      registrationDateTime: this.now().toISOString(),
      extensionAttributes: {},
      lastCheckInTime: null,
      inventory: null,
      inventoryUpdatedAt: null,
      complianceUpdatedAt: null,
    };
    putDevice(t, device);
    return device;
  }

  newUser(t: Tenant, userPrincipalName: string, id?: string): User {
    const user: User = {
      id: (id ?? newId()).toLowerCase(),
      userPrincipalName,
      displayName: userPrincipalName.split('@')[0] ?? userPrincipalName,
    };
    putUser(t, user);
    return user;
  }
}

/** Adds or replaces a user; the first user with a UPN is the one found by it, as in a scan in insertion order. */
export function putUser(t: Tenant, user: User): void {
  const old = t.users.get(user.id);
  t.users.set(user.id, user);
  if (old && t.usersByUpn.get(old.userPrincipalName.toLowerCase()) === old) reindexUpn(t, old.userPrincipalName.toLowerCase());
  const upn = user.userPrincipalName.toLowerCase();
  if (!t.usersByUpn.has(upn)) t.usersByUpn.set(upn, user);
}

function reindexUpn(t: Tenant, upn: string): void {
  t.usersByUpn.delete(upn);
  for (const u of t.users.values()) if (u.userPrincipalName.toLowerCase() === upn) return void t.usersByUpn.set(upn, u);
}

/** Adds a device; the first device with an Entra device id is the one found by it. */
export function putDevice(t: Tenant, device: Device): void {
  t.devices.set(device.id, device);
  if (!t.devicesByDeviceId.has(device.deviceId)) t.devicesByDeviceId.set(device.deviceId, device);
}

export function removeDevice(t: Tenant, device: Device): void {
  t.devices.delete(device.id);
  if (t.devicesByDeviceId.get(device.deviceId) !== device) return;
  t.devicesByDeviceId.delete(device.deviceId);
  for (const d of t.devices.values()) if (d.deviceId === device.deviceId) return void t.devicesByDeviceId.set(d.deviceId, d);
}

export function findDevice(t: Tenant, deviceId: string): Device | undefined {
  return t.devicesByDeviceId.get(deviceId.toLowerCase());
}

/** By object id or (case-insensitive) UPN, as Graph's users/{id | userPrincipalName} accepts both. */
export function findUser(t: Tenant, idOrUpn: string): User | undefined {
  const key = idOrUpn.toLowerCase();
  return t.users.get(key) ?? t.usersByUpn.get(key);
}
