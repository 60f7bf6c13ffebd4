// The Intune partner API (P1-P6): tenant provisioning, compliance policy and assignment, the
// tenant heartbeat, and asynchronous device data upload messages. Errors use Graph's error shape.
import { authenticate, requireRole } from './auth';
import type { ThrottleMeter } from './throttle';
import { graphError, isRecord, json, newId, parseJson, safeDecode, type EmuRequest, type EmuResponse } from './http';
import type { EmulatorState, Policy, Tenant } from './state';
import { INTUNE_API_APP_ID, INTUNE_AUDIENCE, type TokenService } from './tokens';
import { finishMessage, parseEnvelope } from './uploads';

const TENANT_SERVICE = 'PartnerTenantDataSyncService';
const DEVICE_SERVICE = 'PartnerDeviceDataSyncService';
const TENANT_API_VERSION = '1.6';
const DEVICE_API_VERSION = '1.2';
const PARTNER_ROLES = ['update_device_attributes'];

const GUID_KEY = "\\(guid'([0-9a-fA-F-]{36})'\\)";

function badRequest(req: EmuRequest, message: string): EmuResponse {
  return graphError(req, 400, 'BadRequest', message);
}

function notFound(req: EmuRequest, message: string): EmuResponse {
  return graphError(req, 404, 'ResourceNotFound', message);
}

export class IntuneService {
  constructor(
    private readonly state: EmulatorState,
    private readonly tokens: TokenService,
    private readonly throttle: ThrottleMeter,
  ) {}

  handle(req: EmuRequest): EmuResponse {
    const path = safeDecode(req.pathname);
    const m = /^\/intune\/([^/]+)\/(.+)$/.exec(path);
    const service = m?.[1];
    if (!m || (service !== TENANT_SERVICE && service !== DEVICE_SERVICE)) return notFound(req, `No partner service at '${req.pathname}'.`);
    const auth = authenticate(req, this.state, this.tokens, INTUNE_AUDIENCE, INTUNE_API_APP_ID);
    if (!auth.ok) return auth.response;
    const denied = requireRole(req, auth.claims, PARTNER_ROLES);
    if (denied) return denied;
    const throttled = this.throttle.checkCaller(req, 'intune', auth.claims, this.state.settings.throttle);
    if (throttled) return throttled;
    const expectedVersion = service === TENANT_SERVICE ? TENANT_API_VERSION : DEVICE_API_VERSION;
    const apiVersion = req.query.get('api-version');
    if (apiVersion !== expectedVersion) {
      return badRequest(
        req,
        apiVersion === null
          ? `The 'api-version' query parameter is required; ${service} supports '${expectedVersion}'.`
          : `The api-version '${apiVersion}' is not supported by ${service}; use '${expectedVersion}'.`,
      );
    }
    const svcBase = `${req.baseUrl}/intune/${service}`;
    const rest = m[2]!;
    const t = auth.tenant;
    let g: RegExpExecArray | null;
    if (service === TENANT_SERVICE) {
      if ((g = new RegExp(`^PartnerTenants${GUID_KEY}$`).exec(rest)) && req.method === 'PUT') return this.provision(req, t, g[1]!);
      if ((g = new RegExp(`^PartnerTenantHeartbeat${GUID_KEY}$`).exec(rest)) && req.method === 'PUT') return this.heartbeat(req, t, g[1]!);
      if (rest === 'PartnerCompliancePolicies' && req.method === 'POST') return this.createPolicy(req, t, svcBase);
      if (rest === 'PartnerCompliancePolicies' && req.method === 'GET') {
        return json(200, { 'odata.metadata': `${svcBase}/$metadata#PartnerCompliancePolicies`, value: t.policies.map((p) => ({ ...p })) });
      }
      if ((g = new RegExp(`^PartnerCompliancePolicies${GUID_KEY}/Assign$`).exec(rest)) && req.method === 'POST')
        return this.assign(req, t, g[1]!, svcBase);
    } else if ((g = new RegExp(`^DataUploadMessages${GUID_KEY}$`).exec(rest))) {
      if (req.method === 'PUT') return this.upload(req, t, g[1]!);
      if (req.method === 'GET') return this.status(req, t, g[1]!.toLowerCase());
    }
    return notFound(req, `No ${req.method} operation at '${req.pathname}'.`);
  }

  private sameTenant(req: EmuRequest, t: Tenant, key: string): EmuResponse | undefined {
    if (key.toLowerCase() === t.tenantId) return undefined;
    return graphError(req, 403, 'Forbidden', `Tenant '${key}' does not match the caller's tenant '${t.tenantId}'.`);
  }

  /** P1 */
  private provision(req: EmuRequest, t: Tenant, key: string): EmuResponse {
    const wrong = this.sameTenant(req, t, key);
    if (wrong) return wrong;
    const body = parseJson(req.rawBody);
    if (!isRecord(body) || (body.Provisioned !== 1 && body.Provisioned !== 2))
      return badRequest(req, "'Provisioned' must be 1 (provision) or 2 (deprovision).");
    for (const field of ['PartnerEnrollmentUrl', 'PartnerRemediationUrl']) {
      if (body[field] !== undefined && body[field] !== null && typeof body[field] !== 'string')
        return badRequest(req, `'${field}' must be a string.`);
    }
    t.provisioned = body.Provisioned;
    if (typeof body.PartnerEnrollmentUrl === 'string') t.enrollmentUrl = body.PartnerEnrollmentUrl;
    if (typeof body.PartnerRemediationUrl === 'string') t.remediationUrl = body.PartnerRemediationUrl;
    return json(200, { Key: t.partnerKey, ContextId: t.tenantId, Provisioned: t.provisioned, HttpStatusCode: 200, ErrorDetail: null });
  }

  /** P2: one policy per platform; a second create is 409 and the caller reads the collection. */
  private createPolicy(req: EmuRequest, t: Tenant, svcBase: string): EmuResponse {
    const body = parseJson(req.rawBody);
    if (!isRecord(body) || typeof body.DisplayName !== 'string' || body.DisplayName === '')
      return badRequest(req, "'DisplayName' is required.");
    if (typeof body.Platform !== 'string' || body.Platform === '') return badRequest(req, "'Platform' is required.");
    if (body.Description !== undefined && typeof body.Description !== 'string') return badRequest(req, "'Description' must be a string.");
    if (body.PartnerManagedCompliance !== undefined && typeof body.PartnerManagedCompliance !== 'boolean')
      return badRequest(req, "'PartnerManagedCompliance' must be a boolean.");
    const platform = body.Platform;
    if (t.policies.some((p) => p.Platform.toLowerCase() === platform.toLowerCase())) {
      return graphError(req, 409, 'Conflict', `A partner compliance policy for platform '${platform}' already exists.`);
    }
    const policy: Policy = {
      Id: newId(),
      PartnerPolicyId: newId(),
      DisplayName: body.DisplayName,
      Description: typeof body.Description === 'string' ? body.Description : '',
      Platform: platform,
      PartnerManagedCompliance: body.PartnerManagedCompliance !== false,
    };
    t.policies.push(policy);
    return json(201, { 'odata.metadata': `${svcBase}/$metadata#PartnerCompliancePolicies/@Element`, ...policy });
  }

  /** P3: the response value is a JSON string, as recorded from the real service. */
  private assign(req: EmuRequest, t: Tenant, policyId: string, svcBase: string): EmuResponse {
    const policy = t.policies.find((p) => p.Id === policyId.toLowerCase());
    if (!policy) return notFound(req, `Partner compliance policy '${policyId}' was not found.`);
    const body = parseJson(req.rawBody);
    if (!isRecord(body) || !Array.isArray(body.assignments) || !body.assignments.every((a) => typeof a === 'string')) {
      return badRequest(req, "'assignments' must be an array of group ids.");
    }
    const assignments = body.assignments as string[];
    t.assignments = [...t.assignments.filter((a) => a.policyId !== policy.Id), { policyId: policy.Id, assignments }];
    return json(200, { 'odata.metadata': `${svcBase}/$metadata#Edm.String`, value: JSON.stringify({ assignments }) });
  }

  /** P6 (addendum): records the heartbeat and hands back a pending resync request, if any. */
  private heartbeat(req: EmuRequest, t: Tenant, key: string): EmuResponse {
    const wrong = this.sameTenant(req, t, key);
    if (wrong) return wrong;
    const body = parseJson(req.rawBody);
    if (!isRecord(body) || typeof body.Timestamp !== 'string' || Number.isNaN(Date.parse(body.Timestamp))) {
      return badRequest(req, "'Timestamp' must be an ISO-8601 date-time string.");
    }
    t.lastHeartbeatAt = this.state.now().toISOString();
    t.heartbeats += 1;
    const out: Record<string, unknown> = {
      ContextId: t.tenantId,
      LastHeartbeatDateTime: t.lastHeartbeatAt,
      HttpStatusCode: 200,
      ErrorDetail: null,
    };
    if (t.resyncTimestamp !== null) out.ResyncTimestamp = t.resyncTimestamp;
    return json(200, out);
  }

  /** P4: accepted as Pending; the outcome is decided lazily by the status polls. */
  private upload(req: EmuRequest, t: Tenant, rawId: string): EmuResponse {
    // Stored by lower-cased GUID; answered with the id exactly as the caller wrote it.
    const messageId = rawId.toLowerCase();
    const envelope = parseEnvelope(parseJson(req.rawBody));
    if (typeof envelope === 'string') return badRequest(req, envelope);
    if (envelope.tenantId.toLowerCase() !== t.tenantId) {
      return badRequest(req, `TenantId '${envelope.tenantId}' does not match the caller's tenant '${t.tenantId}'.`);
    }
    const existing = t.messages.get(messageId);
    if (existing) {
      if (existing.identity !== envelope.identity)
        return graphError(req, 409, 'Conflict', `DataUploadMessage '${messageId}' already exists with a different body.`);
      return json(200, { Id: rawId, Status: existing.status });
    }
    t.messages.set(messageId, {
      messageId,
      identity: envelope.identity,
      entities: envelope.entities,
      status: 'Pending',
      polls: 0,
      receivedAt: this.state.now().toISOString(),
      completedAt: null,
      errorDetail: null,
    });
    return json(200, { Id: rawId, Status: 'Pending' });
  }

  /** P5: non-terminal for pollsBeforeTerminal polls, terminal from the next one on. */
  private status(req: EmuRequest, t: Tenant, messageId: string): EmuResponse {
    const msg = t.messages.get(messageId);
    if (!msg) return notFound(req, `DataUploadMessage '${messageId}' was not found.`);
    if (msg.status === 'Pending' || msg.status === 'Processing') {
      if (msg.polls >= this.state.settings.pollsBeforeTerminal) finishMessage(this.state, t, msg);
      else {
        msg.polls += 1;
        msg.status = 'Processing';
      }
    }
    const out: Record<string, unknown> = { Status: msg.status, ErrorDetail: msg.errorDetail };
    if (msg.completedAt !== null) out.CompletedDateTime = msg.completedAt;
    return json(200, out);
  }
}
