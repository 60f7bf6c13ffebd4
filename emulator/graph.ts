// Microsoft Graph (G1-G6): devices, users and the Intune service principal with its partner
// endpoints. `$batch` (G7) is in graph-batch.ts and dispatches its items back through route().
import { authenticate, requireRole } from './auth';
import type { ThrottleMeter } from './throttle';
import { runBatch } from './graph-batch';
import { COMPLIANCE_VALIDITY_MS } from './uploads';
import { graphError, isRecord, json, noContent, parseJson, safeDecode, stableId, type EmuRequest, type EmuResponse } from './http';
import type { FaultRegistry } from './faults';
import { findDevice, findUser, INTUNE_APP_ID, removeDevice, type Device, type EmulatorState, type Tenant, type User } from './state';
import { GRAPH_APP_ID, GRAPH_AUDIENCE, type TokenClaims, type TokenService } from './tokens';

const DEVICE_READ = ['Device.Read.All', 'Device.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];
const DEVICE_WRITE = ['Device.ReadWrite.All', 'Directory.ReadWrite.All'];
const USER_READ = ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];
const APPLICATION_READ = ['Application.Read.All', 'Application.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];

/** Writable through PATCH; everything else on a device is read-only. */
const DEVICE_WRITABLE = new Set([
  'accountEnabled',
  'displayName',
  'operatingSystem',
  'operatingSystemVersion',
  'extensionAttributes',
  'isCompliant',
  'isManaged',
]);

export interface GraphContext {
  claims: TokenClaims;
  tenant: Tenant;
}

export interface GraphDeps {
  state: EmulatorState;
  tokens: TokenService;
  faults: FaultRegistry;
  sleep: (ms: number) => Promise<void>;
  throttle: ThrottleMeter;
}

/** The resource path after the version segment, URL-decoded. */
function resourcePath(req: EmuRequest): string {
  return safeDecode(req.pathname).replace(/^\/(v1\.0|beta)\/?/, '');
}

function version(req: EmuRequest): string {
  return /^\/beta(\/|$)/.test(req.pathname) ? 'beta' : 'v1.0';
}

function notFound(req: EmuRequest, key: string): EmuResponse {
  return graphError(
    req,
    404,
    'Request_ResourceNotFound',
    `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`,
  );
}

function badRequest(req: EmuRequest, code: string, message: string): EmuResponse {
  return graphError(req, 400, code, message);
}

function odataLiteral(raw: string): string {
  return raw.replace(/''/g, "'");
}

/** `prop eq 'value'`, the only filter shape the emulator (and the connector) uses. */
function parseEqFilter(filter: string): { property: string; value: string } | undefined {
  const m = /^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$/i.exec(filter);
  return m ? { property: m[1]!, value: odataLiteral(m[2]!) } : undefined;
}

export function serializeDevice(d: Device): Record<string, unknown> {
  const ext: Record<string, string | null> = {};
  for (let i = 1; i <= 15; i++) ext[`extensionAttribute${i}`] = d.extensionAttributes[`extensionAttribute${i}`] ?? null;
  return {
    id: d.id,
    deletedDateTime: null,
    accountEnabled: d.accountEnabled,
    approximateLastSignInDateTime: d.lastCheckInTime,
    complianceExpirationDateTime: d.complianceExpirationDateTime,
    deviceId: d.deviceId,
    deviceOwnership: null,
    displayName: d.displayName,
    isCompliant: d.isCompliant,
    isManaged: d.isManaged,
    manufacturer: null,
    mdmAppId: null,
    model: null,
    operatingSystem: d.operatingSystem,
    operatingSystemVersion: d.operatingSystemVersion,
    profileType: 'RegisteredDevice',
    registrationDateTime: d.registrationDateTime,
    trustType: 'Workplace',
    extensionAttributes: ext,
  };
}

function serializeUser(u: User): Record<string, unknown> {
  return {
    id: u.id,
    businessPhones: [],
    displayName: u.displayName,
    givenName: null,
    jobTitle: null,
    mail: u.userPrincipalName,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: null,
    userPrincipalName: u.userPrincipalName,
  };
}

function intuneServicePrincipal(t: Tenant): Record<string, unknown> {
  return {
    id: t.intuneServicePrincipalId,
    accountEnabled: true,
    appDisplayName: 'Microsoft Intune',
    appId: INTUNE_APP_ID,
    appOwnerOrganizationId: 'f8cdef31-a31e-4b4a-93e4-5f571e91255a',
    displayName: 'Microsoft Intune',
    servicePrincipalType: 'Application',
  };
}

type Selected = { ok: true; value: Record<string, unknown> } | { ok: false; response: EmuResponse };

/** Applies $select; an unknown property is a 400, as in Graph. */
function select(req: EmuRequest, obj: Record<string, unknown>, typeName: string): Selected {
  const sel = req.query.get('$select');
  if (!sel) return { ok: true, value: obj };
  const out: Record<string, unknown> = {};
  for (const raw of sel.split(',')) {
    const name = raw.trim();
    if (!(name in obj)) {
      return {
        ok: false,
        response: badRequest(req, 'Request_BadRequest', `Could not find a property named '${name}' on type 'microsoft.graph.${typeName}'.`),
      };
    }
    out[name] = obj[name];
  }
  return { ok: true, value: out };
}

export class GraphService {
  constructor(private readonly deps: GraphDeps) {}

  async handle(req: EmuRequest): Promise<EmuResponse> {
    const auth = authenticate(req, this.deps.state, this.deps.tokens, GRAPH_AUDIENCE, GRAPH_APP_ID);
    if (!auth.ok) return auth.response;
    const ctx: GraphContext = { claims: auth.claims, tenant: auth.tenant };
    if (resourcePath(req) === '$batch') {
      if (req.method !== 'POST') return graphError(req, 405, 'Request_BadRequest', 'The $batch endpoint only accepts POST.');
      return runBatch(req, { route: (sub) => this.route(sub, ctx), faults: this.deps.faults, sleep: this.deps.sleep });
    }
    return this.route(req, ctx);
  }

  /** Dispatches an already-authenticated request; also used for `$batch` items. */
  route(req: EmuRequest, ctx: GraphContext): EmuResponse {
    // Each request counts, a $batch item too (Microsoft throttles sub-requests one by one).
    const throttled = this.deps.throttle.checkCaller(req, 'graph', ctx.claims, this.deps.state.settings.throttle);
    if (throttled) return throttled;
    const path = resourcePath(req);
    const m = req.method;
    let g: RegExpExecArray | null;
    if (path === 'devices') return m === 'GET' ? this.listDevices(req, ctx) : this.methodNotAllowed(req);
    if ((g = /^devices\(deviceId='((?:[^']|'')*)'\)$/.exec(path)) || (g = /^devices\/([^/()]+)$/.exec(path))) {
      const byDeviceId = path.startsWith('devices(');
      const key = odataLiteral(g[1]!);
      if (m === 'GET') return this.getDevice(req, ctx, key, byDeviceId);
      if (m === 'PATCH') return this.patchDevice(req, ctx, key, byDeviceId);
      if (m === 'DELETE') return this.deleteDevice(req, ctx, key, byDeviceId);
      return this.methodNotAllowed(req);
    }
    if ((g = /^users\('((?:[^']|'')*)'\)$/.exec(path)) || (g = /^users\/([^/()]+)$/.exec(path))) {
      return m === 'GET' ? this.getUser(req, ctx, odataLiteral(g[1]!)) : this.methodNotAllowed(req);
    }
    if (path === 'servicePrincipals') return m === 'GET' ? this.listServicePrincipals(req, ctx) : this.methodNotAllowed(req);
    if ((g = /^servicePrincipals(?:\/([^/()]+)|\(appId='([^']*)'\))(\/endPoints)?$/i.exec(path))) {
      return m === 'GET' ? this.getServicePrincipal(req, ctx, g[1], g[2], g[3] !== undefined) : this.methodNotAllowed(req);
    }
    const segment = path.split(/[/(]/)[0] ?? path;
    return badRequest(req, 'BadRequest', `Resource not found for the segment '${segment}'.`);
  }

  private methodNotAllowed(req: EmuRequest): EmuResponse {
    return graphError(req, 405, 'Request_BadRequest', `The HTTP method '${req.method}' is not allowed for this resource.`);
  }

  private findDeviceBy(ctx: GraphContext, key: string, byDeviceId: boolean): Device | undefined {
    if (!byDeviceId) return ctx.tenant.devices.get(key.toLowerCase());
    const found = findDevice(ctx.tenant, key);
    // autoRegister: a device looked up by its Entra deviceId exists from first sight (demo fleets),
    // unless it was deleted through the control plane.
    if (!found && this.deps.state.settings.autoRegister && !ctx.tenant.deletedDeviceIds.has(key.toLowerCase()))
      return this.deps.state.newDevice(ctx.tenant, key);
    return found;
  }

  /** G1 */
  private listDevices(req: EmuRequest, ctx: GraphContext): EmuResponse {
    const denied = requireRole(req, ctx.claims, DEVICE_READ);
    if (denied) return denied;
    let devices = [...ctx.tenant.devices.values()];
    const filter = req.query.get('$filter');
    if (filter !== null) {
      const eq = parseEqFilter(filter);
      const prop = eq?.property.toLowerCase();
      if (!eq || (prop !== 'deviceid' && prop !== 'id' && prop !== 'displayname')) {
        return badRequest(
          req,
          'Request_UnsupportedQuery',
          `Unsupported or invalid query filter clause specified for property '${eq?.property ?? filter}' of resource 'Device'.`,
        );
      }
      if (prop === 'deviceid') {
        const d = this.findDeviceBy(ctx, eq.value, true);
        devices = d ? [d] : [];
      } else if (prop === 'id') devices = devices.filter((d) => d.id === eq.value.toLowerCase());
      else devices = devices.filter((d) => d.displayName === eq.value);
    }
    const top = req.query.get('$top');
    if (top !== null) {
      const n = Number(top);
      if (!Number.isInteger(n) || n < 1 || n > 999)
        return badRequest(req, 'Request_BadRequest', `Invalid page size specified: '${top}'. Must be between 1 and 999 inclusive.`);
      devices = devices.slice(0, n);
    }
    const value: Record<string, unknown>[] = [];
    for (const d of devices) {
      const s = select(req, serializeDevice(d), 'device');
      if (!s.ok) return s.response;
      value.push(s.value);
    }
    const sel = req.query.get('$select');
    return json(200, { '@odata.context': `${req.baseUrl}/${version(req)}/$metadata#devices${sel ? `(${sel})` : ''}`, value });
  }

  /** G2 */
  private getDevice(req: EmuRequest, ctx: GraphContext, key: string, byDeviceId: boolean): EmuResponse {
    const denied = requireRole(req, ctx.claims, DEVICE_READ);
    if (denied) return denied;
    const d = this.findDeviceBy(ctx, key, byDeviceId);
    if (!d) return notFound(req, key);
    const s = select(req, serializeDevice(d), 'device');
    if (!s.ok) return s.response;
    return json(200, { '@odata.context': `${req.baseUrl}/${version(req)}/$metadata#devices/$entity`, ...s.value });
  }

  /** G3: on non-Windows devices app-only callers may change only extensionAttributes (R12). */
  private patchDevice(req: EmuRequest, ctx: GraphContext, key: string, byDeviceId: boolean): EmuResponse {
    const denied = requireRole(req, ctx.claims, DEVICE_WRITE);
    if (denied) return denied;
    const body = parseJson(req.rawBody);
    if (!isRecord(body)) return badRequest(req, 'Request_BadRequest', 'Empty Payload. JSON content expected.');
    const d = this.findDeviceBy(ctx, key, byDeviceId);
    if (!d) return notFound(req, key);
    for (const prop of Object.keys(body)) {
      if (!DEVICE_WRITABLE.has(prop)) {
        return badRequest(
          req,
          'Request_BadRequest',
          prop in serializeDevice(d) ? `Property '${prop}' is read-only and cannot be set.` : `Invalid property '${prop}'.`,
        );
      }
    }
    const windows = /^windows/i.test(d.operatingSystem ?? '');
    if (!windows && Object.keys(body).some((p) => p !== 'extensionAttributes')) {
      return graphError(req, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    }
    const problem = this.applyPatch(d, body);
    if (problem) return badRequest(req, 'Request_BadRequest', problem);
    return noContent();
  }

  private applyPatch(d: Device, body: Record<string, unknown>): string | undefined {
    for (const p of ['accountEnabled', 'isCompliant', 'isManaged'] as const) {
      if (p in body && typeof body[p] !== 'boolean') return `Property '${p}' must be a boolean.`;
    }
    for (const p of ['displayName', 'operatingSystem', 'operatingSystemVersion'] as const) {
      if (p in body && typeof body[p] !== 'string') return `Property '${p}' must be a string.`;
    }
    const ext = body.extensionAttributes;
    if (ext !== undefined) {
      if (!isRecord(ext)) return "Property 'extensionAttributes' must be an object.";
      for (const [k, v] of Object.entries(ext)) {
        if (!/^extensionAttribute([1-9]|1[0-5])$/.test(k)) return `Invalid property '${k}' on 'extensionAttributes'.`;
        if (v !== null && typeof v !== 'string') return `Property '${k}' must be a string or null.`;
      }
    }
    if (typeof body.accountEnabled === 'boolean') d.accountEnabled = body.accountEnabled;
    if (typeof body.displayName === 'string') d.displayName = body.displayName;
    if (typeof body.operatingSystem === 'string') d.operatingSystem = body.operatingSystem;
    if (typeof body.operatingSystemVersion === 'string') d.operatingSystemVersion = body.operatingSystemVersion;
    if (typeof body.isManaged === 'boolean') d.isManaged = body.isManaged;
    if (typeof body.isCompliant === 'boolean') {
      d.isCompliant = body.isCompliant;
      // An inferred value: the compliance verdict is trusted for a week unless renewed.
      d.complianceExpirationDateTime = new Date(this.deps.state.now().getTime() + COMPLIANCE_VALIDITY_MS).toISOString();
    }
    if (isRecord(ext)) for (const [k, v] of Object.entries(ext)) d.extensionAttributes[k] = v as string | null;
    return undefined;
  }

  /** G4: app-only deletion is not supported per the stored docs (R25) unless configured. */
  private deleteDevice(req: EmuRequest, ctx: GraphContext, key: string, byDeviceId: boolean): EmuResponse {
    if (!this.deps.state.settings.allowAppDeviceDelete) {
      return graphError(req, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    }
    const denied = requireRole(req, ctx.claims, DEVICE_WRITE);
    if (denied) return denied;
    const d = byDeviceId ? findDevice(ctx.tenant, key) : ctx.tenant.devices.get(key.toLowerCase());
    if (!d) return notFound(req, key);
    removeDevice(ctx.tenant, d);
    return noContent();
  }

  /** G5: by object id or UPN; autoRegister creates an unknown UPN on first lookup. */
  private getUser(req: EmuRequest, ctx: GraphContext, key: string): EmuResponse {
    const denied = requireRole(req, ctx.claims, USER_READ);
    if (denied) return denied;
    let u = findUser(ctx.tenant, key);
    if (!u && key.includes('@') && this.deps.state.settings.autoRegister) u = this.deps.state.newUser(ctx.tenant, key);
    if (!u) return notFound(req, key);
    const s = select(req, serializeUser(u), 'user');
    if (!s.ok) return s.response;
    return json(200, { '@odata.context': `${req.baseUrl}/${version(req)}/$metadata#users/$entity`, ...s.value });
  }

  /** G6: the tenant holds one service principal that matters, Microsoft Intune's. */
  private listServicePrincipals(req: EmuRequest, ctx: GraphContext): EmuResponse {
    const denied = requireRole(req, ctx.claims, APPLICATION_READ);
    if (denied) return denied;
    let sps = [intuneServicePrincipal(ctx.tenant)];
    const filter = req.query.get('$filter');
    if (filter !== null) {
      const eq = parseEqFilter(filter);
      const prop = eq?.property.toLowerCase();
      if (!eq || (prop !== 'appid' && prop !== 'displayname')) {
        return badRequest(
          req,
          'Request_UnsupportedQuery',
          `Unsupported or invalid query filter clause specified for property '${eq?.property ?? filter}' of resource 'ServicePrincipal'.`,
        );
      }
      sps = sps.filter((sp) =>
        prop === 'appid' ? String(sp.appId).toLowerCase() === eq.value.toLowerCase() : sp.displayName === eq.value,
      );
    }
    const value: Record<string, unknown>[] = [];
    for (const sp of sps) {
      const s = select(req, sp, 'servicePrincipal');
      if (!s.ok) return s.response;
      value.push(s.value);
    }
    return json(200, { '@odata.context': `${req.baseUrl}/${version(req)}/$metadata#servicePrincipals`, value });
  }

  private getServicePrincipal(
    req: EmuRequest,
    ctx: GraphContext,
    id: string | undefined,
    appId: string | undefined,
    endpoints: boolean,
  ): EmuResponse {
    const denied = requireRole(req, ctx.claims, APPLICATION_READ);
    if (denied) return denied;
    const sp = intuneServicePrincipal(ctx.tenant);
    const matchesSp = id !== undefined ? id.toLowerCase() === sp.id : appId?.toLowerCase() === INTUNE_APP_ID;
    if (!matchesSp) return notFound(req, id ?? appId ?? '');
    if (!endpoints) return json(200, { '@odata.context': `${req.baseUrl}/${version(req)}/$metadata#servicePrincipals/$entity`, ...sp });
    const endpoint = (providerName: string, capability: string, uri: string): Record<string, unknown> => ({
      id: stableId(ctx.tenant.tenantId, providerName),
      deletedDateTime: null,
      capability,
      providerId: stableId('provider', providerName),
      providerName,
      providerResourceId: null,
      uri,
    });
    return json(200, {
      '@odata.context': `${req.baseUrl}/${version(req)}/$metadata#servicePrincipals('${sp.id}')/endpoints`,
      // A provider the connector must skip: it has to pick entries by providerName, not by position.
      value: [
        endpoint('IntuneScepService', 'ScepService', `${req.baseUrl}/intune/IntuneScepService`),
        endpoint('PartnerTenantDataSyncService', 'PartnerTenantDataSync', `${req.baseUrl}/intune/PartnerTenantDataSyncService`),
        endpoint('PartnerDeviceDataSyncService', 'PartnerDeviceDataSync', `${req.baseUrl}/intune/PartnerDeviceDataSyncService`),
      ],
    });
  }
}
