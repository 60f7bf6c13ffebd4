// The control plane under /_emulator/ (no auth): seeding, settings, faults, clock, revocation, the
// journal and read views of what Entra and Intune now hold. Inputs are validated with zod.
import { z } from 'zod';
import type { FaultRegistry } from './faults';
import { json, noContent, parseJson, safeDecode, type EmuRequest, type EmuResponse } from './http';
import type { Journal } from './journal';
import { findDevice, removeDevice, type EmulatorState, type Tenant, type UploadMessage } from './state';
import type { ThrottleMeter } from './throttle';
import type { TokenService } from './tokens';
import type { ClockView, EntraDeviceView, MessageView, TenantMessageView, TenantView } from './types';
import { newestUpdateTime } from './uploads';

const isoDate = z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'must be an ISO-8601 date-time');

const appSchema = z.object({
  clientId: z.string().min(1),
  clientSecret: z.string(),
  roles: z.array(z.string()).optional(),
  certificatePems: z.array(z.string()).optional(),
  redirectUris: z.array(z.string().url()).optional(),
});

const seedSchema = z.object({
  apps: z.array(appSchema).optional(),
  tenants: z.array(
    z.object({
      tenantId: z.string().min(1),
      displayName: z.string().optional(),
      apps: z.array(appSchema).optional(),
      users: z
        .array(z.object({ id: z.string().min(1).optional(), userPrincipalName: z.string().min(1), displayName: z.string().optional() }))
        .optional(),
      devices: z
        .array(
          z.object({
            id: z.string().min(1).optional(),
            deviceId: z.string().min(1),
            displayName: z.string().optional(),
            operatingSystem: z.string().optional(),
            operatingSystemVersion: z.string().optional(),
          }),
        )
        .optional(),
    }),
  ),
});

const faultSchema = z.object({
  match: z.object({
    method: z.string().optional(),
    pathRegex: z.string().optional(),
    service: z.enum(['token', 'graph', 'intune']).optional(),
    batchItem: z.boolean().optional(),
  }),
  response: z
    .object({
      status: z.number().int().min(100).max(599),
      headers: z.record(z.string(), z.string()).optional(),
      body: z.unknown().optional(),
    })
    .optional(),
  times: z.number().int().positive().optional(),
  probability: z.number().min(0).max(1).optional(),
  delayMs: z.number().int().nonnegative().optional(),
  reset: z.boolean().optional(),
});

/** A service's throttling limit; null switches it off. */
const rateLimitSchema = z.object({ limit: z.number().int().positive(), windowSeconds: z.number().positive() }).nullable().optional();

const optionsSchema = z.object({
  autoRegister: z.boolean().optional(),
  pollsBeforeTerminal: z.number().int().nonnegative().optional(),
  tokenLifetimeSeconds: z.number().int().positive().optional(),
  allowAppDeviceDelete: z.boolean().optional(),
  throttle: z.object({ graph: rateLimitSchema, intune: rateLimitSchema }).optional(),
});

const entraDevicePatchSchema = z.strictObject({
  isCompliant: z.boolean().nullable().optional(),
  isManaged: z.boolean().nullable().optional(),
  complianceExpirationDateTime: isoDate.nullable().optional(),
});

const clockSchema = z.object({ offsetSeconds: z.number() });
const addTenantSchema = z.object({ tenantId: z.string().min(1), displayName: z.string().optional() });
const consentAnswerSchema = z.object({ answer: z.enum(['grant', 'decline']) });
const revocationSchema = z.enum(['service-principal', 'permissions']);
const resyncSchema = z.object({ resyncTimestamp: isoDate.nullable() });

export interface ControlDeps {
  state: EmulatorState;
  faults: FaultRegistry;
  journal: Journal;
  tokens: TokenService;
  throttle: ThrottleMeter;
}

function controlError(status: number, code: string, message: string): EmuResponse {
  return json(status, { error: { code, message } });
}

function parse<T>(schema: z.ZodType<T>, req: EmuRequest): { ok: true; value: T } | { ok: false; response: EmuResponse } {
  const result = schema.safeParse(parseJson(req.rawBody) ?? {});
  if (result.success) return { ok: true, value: result.data };
  const message = result.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
  return { ok: false, response: controlError(400, 'InvalidRequest', message) };
}

function messageView(msg: UploadMessage, entities: Record<string, unknown>[]): MessageView {
  return {
    messageId: msg.messageId,
    status: msg.status,
    receivedAt: msg.receivedAt,
    completedAt: msg.completedAt,
    errorDetail: msg.errorDetail,
    lastUpdateTime: newestUpdateTime(entities),
    entities,
  };
}

export function tenantView(t: Tenant): TenantView {
  return {
    tenantId: t.tenantId,
    displayName: t.displayName,
    consents: [...t.apps.values()].map((a) => ({
      clientId: a.clientId,
      grantedAt: t.consentGrantedAt.get(a.clientId.toLowerCase()) ?? '',
    })),
    revokedConsents: [...t.revokedConsents.values()].map((r) => ({ ...r })),
    consentAnswer: t.consentAnswer,
    provisioned: t.provisioned,
    policies: t.policies.map((p) => ({ ...p })),
    assignments: t.assignments.map((a) => ({ policyId: a.policyId, assignments: [...a.assignments] })),
    lastHeartbeatAt: t.lastHeartbeatAt,
    heartbeats: t.heartbeats,
    resyncTimestamp: t.resyncTimestamp,
  };
}

export function deviceView(t: Tenant, deviceId: string): EntraDeviceView | null {
  const d = findDevice(t, deviceId);
  if (!d) return null;
  const messages: MessageView[] = [];
  for (const msg of t.messages.values()) {
    const mine = msg.entities.filter((e) => typeof e.DeviceId === 'string' && e.DeviceId.toLowerCase() === d.deviceId);
    if (mine.length > 0) messages.push(messageView(msg, mine));
  }
  return {
    deviceId: d.deviceId,
    id: d.id,
    operatingSystem: d.operatingSystem,
    isManaged: d.isManaged,
    isCompliant: d.isCompliant,
    complianceExpirationDateTime: d.complianceExpirationDateTime,
    lastCheckInTime: d.lastCheckInTime,
    inventory: d.inventory,
    messages,
  };
}

export function tenantMessages(t: Tenant): TenantMessageView[] {
  return [...t.messages.values()].map((msg) => {
    const first = msg.entities.find((e) => typeof e.DeviceId === 'string');
    return { ...messageView(msg, msg.entities), deviceId: first ? (first.DeviceId as string) : null };
  });
}

export class ControlPlane {
  constructor(private readonly deps: ControlDeps) {}

  handle(req: EmuRequest): EmuResponse {
    const { state, faults, journal, tokens, throttle } = this.deps;
    const path = safeDecode(req.pathname)
      .replace(/^\/_emulator/, '')
      .replace(/\/$/, '');
    const route = `${req.method} ${path}`;
    let g: RegExpExecArray | null;
    switch (route) {
      case 'POST /reset':
        state.reset();
        faults.clear();
        journal.clear();
        throttle.clear();
        return noContent();
      case 'POST /seed': {
        const p = parse(seedSchema, req);
        if (!p.ok) return p.response;
        state.seed(p.value);
        return noContent();
      }
      case 'GET /options':
        return json(200, state.settings);
      case 'POST /options': {
        const p = parse(optionsSchema, req);
        if (!p.ok) return p.response;
        for (const [k, v] of Object.entries(p.value)) if (v !== undefined) Object.assign(state.settings, { [k]: v });
        return json(200, state.settings);
      }
      case 'POST /faults': {
        const p = parse(faultSchema, req);
        if (!p.ok) return p.response;
        try {
          return json(201, { id: faults.add(p.value) });
        } catch (err) {
          return controlError(400, 'InvalidRequest', `match.pathRegex: ${(err as Error).message}`);
        }
      }
      case 'GET /faults':
        return json(200, faults.list());
      case 'DELETE /faults':
        faults.clear();
        return noContent();
      case 'GET /clock':
        return json(200, this.clock());
      case 'POST /clock': {
        const p = parse(clockSchema, req);
        if (!p.ok) return p.response;
        state.clockOffsetSeconds = p.value.offsetSeconds;
        return json(200, this.clock());
      }
      case 'POST /revoke-tokens':
        tokens.revokeAll();
        return noContent();
      case 'GET /requests':
        return json(
          200,
          journal.list({
            service: req.query.get('service') ?? undefined,
            pathIncludes: req.query.get('pathIncludes') ?? undefined,
            since: req.query.get('since') ?? undefined,
            tenantId: req.query.get('tenantId') ?? undefined,
          }),
        );
      case 'DELETE /requests':
        journal.clear();
        return noContent();
    }
    if (req.method === 'DELETE' && (g = /^\/faults\/([^/]+)$/.exec(path))) {
      return faults.remove(g[1]!) ? noContent() : controlError(404, 'NotFound', `No fault '${g[1]}'.`);
    }
    if (route === 'POST /tenants') return this.addTenant(req);
    if ((g = /^\/tenants\/([^/]+)(\/.*)?$/.exec(path))) return this.tenantRoute(req, g[1]!, g[2] ?? '');
    return controlError(404, 'NotFound', `No control-plane route '${route}'.`);
  }

  private tenantRoute(req: EmuRequest, tenantId: string, rest: string): EmuResponse {
    const t = this.deps.state.tenant(tenantId);
    if (!t) return controlError(404, 'NotFound', `Tenant '${tenantId}' is not seeded.`);
    let g: RegExpExecArray | null;
    if (req.method === 'GET' && rest === '') return json(200, tenantView(t));
    if (req.method === 'GET' && rest === '/messages') return json(200, tenantMessages(t));
    if (req.method === 'PUT' && rest === '/resync-timestamp') {
      const p = parse(resyncSchema, req);
      if (!p.ok) return p.response;
      t.resyncTimestamp = p.value.resyncTimestamp;
      return json(200, tenantView(t));
    }
    if (req.method === 'PUT' && rest === '/consent-answer') {
      const p = parse(consentAnswerSchema, req);
      if (!p.ok) return p.response;
      t.consentAnswer = p.value.answer;
      return json(200, tenantView(t));
    }
    if ((g = /^\/consents\/([^/]+)$/.exec(rest))) return this.consentRoute(req, t, g[1]!);
    if ((g = /^\/devices\/([^/]+)$/.exec(rest))) return this.deviceRoute(req, t, tenantId, g[1]!);
    return controlError(404, 'NotFound', `No control-plane route '${req.method} /tenants/${tenantId}${rest}'.`);
  }

  /** A tenant with no app consented yet: 201, or 200 when it exists (its display name updated). */
  private addTenant(req: EmuRequest): EmuResponse {
    const p = parse(addTenantSchema, req);
    if (!p.ok) return p.response;
    const existed = this.deps.state.tenant(p.value.tenantId) !== undefined;
    const t = this.deps.state.ensureTenant(p.value.tenantId);
    if (p.value.displayName !== undefined) t.displayName = p.value.displayName;
    return json(existed ? 200 : 201, tenantView(t));
  }

  /** PUT grants admin consent to a registered app; DELETE takes it away (`?how=service-principal|permissions`). */
  private consentRoute(req: EmuRequest, t: Tenant, clientId: string): EmuResponse {
    const { state, tokens } = this.deps;
    if (req.method === 'PUT') {
      const app = state.app(clientId);
      if (!app) return controlError(404, 'NotFound', `No app registration '${clientId}'.`);
      state.grantConsent(t, app);
      return json(200, tenantView(t));
    }
    if (req.method === 'DELETE') {
      const how = revocationSchema.safeParse(req.query.get('how') ?? 'service-principal');
      if (!how.success) return controlError(400, 'InvalidRequest', "how: must be 'service-principal' or 'permissions'");
      if (!state.revokeConsent(t, clientId, how.data, tokens.lastSerial()))
        return controlError(404, 'NotFound', `App '${clientId}' has no consent in tenant '${t.tenantId}'.`);
      return noContent();
    }
    return controlError(404, 'NotFound', `No control-plane route '${req.method} /tenants/${t.tenantId}/consents/${clientId}'.`);
  }

  /** A device's view; and what an admin or Entra itself may do behind the connector's back: change its state, delete it. */
  private deviceRoute(req: EmuRequest, t: Tenant, tenantId: string, deviceId: string): EmuResponse {
    const d = findDevice(t, deviceId);
    if (!d) return controlError(404, 'NotFound', `Device '${deviceId}' is not in tenant '${tenantId}'.`);
    if (req.method === 'GET') return json(200, deviceView(t, deviceId)!);
    if (req.method === 'PATCH') {
      const p = parse(entraDevicePatchSchema, req);
      if (!p.ok) return p.response;
      if (p.value.isCompliant !== undefined) d.isCompliant = p.value.isCompliant;
      if (p.value.isManaged !== undefined) d.isManaged = p.value.isManaged;
      if (p.value.complianceExpirationDateTime !== undefined) d.complianceExpirationDateTime = p.value.complianceExpirationDateTime;
      return json(200, deviceView(t, deviceId)!);
    }
    if (req.method === 'DELETE') {
      removeDevice(t, d);
      t.deletedDeviceIds.add(d.deviceId);
      return noContent();
    }
    return controlError(405, 'MethodNotAllowed', `No control-plane route '${req.method} /tenants/${tenantId}/devices/${deviceId}'.`);
  }

  private clock(): ClockView {
    return { offsetSeconds: this.deps.state.clockOffsetSeconds, now: this.deps.state.now().toISOString() };
  }
}
