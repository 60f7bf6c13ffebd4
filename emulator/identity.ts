// Identity platform (I1-I5): authority metadata, instance discovery and the client-credentials token
// endpoint, with Entra's AADSTS error bodies so msal-node raises the same ServerErrors it would live.
import { constants, verify as cryptoVerify } from 'node:crypto';
import { json, newId, type EmuRequest, type EmuResponse } from './http';
import type { App, EmulatorState } from './state';
import { audienceForResource, rolesForAudience, type TokenService } from './tokens';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

function aadTimestamp(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** Entra's token-endpoint error body; MSAL reads error, error_codes and error_description. */
export function aadError(
  req: EmuRequest,
  status: number,
  error: string,
  code: number,
  message: string,
  headers: Record<string, string> = {},
  extra: Record<string, string> = {},
): EmuResponse {
  const traceId = newId();
  const correlationId = correlationIdOf(req);
  const timestamp = aadTimestamp(new Date());
  return json(
    status,
    {
      error,
      error_description: `AADSTS${code}: ${message} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `${req.baseUrl}/error?code=${code}`,
      ...extra,
    },
    headers,
  );
}

function correlationIdOf(req: EmuRequest): string {
  return req.headers['client-request-id'] ?? req.query.get('client-request-id') ?? newId();
}

const DEFAULT_TOKEN_ERRORS: Record<number, [string, number, string]> = {
  429: [
    'temporarily_unavailable',
    50196,
    'The server terminated an operation because it encountered a client request loop. Please retry later.',
  ],
  500: ['server_error', 90033, 'A transient error has occurred. Please try again.'],
  503: ['temporarily_unavailable', 90033, 'A transient error has occurred. Please try again.'],
};

/** The body a token-endpoint fault gets when its spec gives none. */
export function defaultTokenErrorBody(req: EmuRequest, status: number): unknown {
  const [error, code, message] =
    DEFAULT_TOKEN_ERRORS[status] ?? (status >= 500 ? DEFAULT_TOKEN_ERRORS[500]! : ['invalid_request', 90014, `HTTP ${status}.`]);
  return aadError(req, status, error, code, message).body;
}

function tenantNotFound(req: EmuRequest, tenant: string): EmuResponse {
  return aadError(
    req,
    400,
    'invalid_request',
    90002,
    `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
  );
}

/** AADSTS700016: the app is unknown, or has no consent (no service principal) in the tenant. */
function appNotFound(req: EmuRequest, clientId: string, tenant: string): EmuResponse {
  return aadError(
    req,
    400,
    'unauthorized_client',
    700016,
    `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
  );
}

export class IdentityService {
  constructor(
    private readonly state: EmulatorState,
    private readonly tokens: TokenService,
  ) {}

  handle(req: EmuRequest): EmuResponse {
    const segments = req.pathname.split('/').filter(Boolean);
    const [tenantSegment, ...rest] = segments;
    const tail = rest.join('/');
    if (req.method === 'GET' && tenantSegment === 'common' && tail === 'discovery/instance') return this.instanceDiscovery(req);
    if (tenantSegment && req.method === 'GET' && tail === 'v2.0/.well-known/openid-configuration')
      return this.openIdConfiguration(req, tenantSegment);
    if (tenantSegment && req.method === 'GET' && tail === 'discovery/v2.0/keys') return json(200, { keys: [] });
    if (tenantSegment && req.method === 'GET' && (tail === 'adminconsent' || tail === 'v2.0/adminconsent'))
      return this.adminConsent(req, tenantSegment, tail.startsWith('v2.0'));
    if (tenantSegment && tail === 'oauth2/v2.0/token') {
      if (req.method !== 'POST') return aadError(req, 405, 'invalid_request', 900561, 'The endpoint only accepts POST requests.');
      return this.token(req, tenantSegment);
    }
    return aadError(req, 404, 'invalid_request', 900021, `The path '${req.pathname}' is not an identity platform endpoint.`);
  }

  /** I2: only for diagnostics; MSAL skips it when knownAuthorities names this host. */
  private instanceDiscovery(req: EmuRequest): EmuResponse {
    const host = new URL(req.baseUrl).host;
    return json(200, {
      tenant_discovery_endpoint: `${req.baseUrl}/common/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
  }

  /** I1: the issuer is same-origin because msal-node 7 validates it against the authority. */
  private openIdConfiguration(req: EmuRequest, tenantSegment: string): EmuResponse {
    const tenant = this.state.tenant(tenantSegment);
    if (!tenant) return tenantNotFound(req, tenantSegment);
    const base = `${req.baseUrl}/${tenant.tenantId}`;
    return json(200, {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      tenant_region_scope: 'EU',
      cloud_instance_name: new URL(req.baseUrl).hostname,
      cloud_graph_host_name: new URL(req.baseUrl).host,
      msgraph_host: new URL(req.baseUrl).host,
    });
  }

  /**
   * I6: the admin-consent page, answered at once by the tenant's administrator as the control plane
   * says (grant by default). Problems Entra shows on its own error page (unknown app or tenant, a
   * reply URL the app does not list) are a 400 here, without a redirect.
   */
  private adminConsent(req: EmuRequest, tenantSegment: string, v2: boolean): EmuResponse {
    const clientId = req.query.get('client_id');
    if (!clientId)
      return aadError(req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
    const app = this.state.app(clientId);
    if (!app) return appNotFound(req, clientId, tenantSegment);
    const tenant = this.state.tenant(tenantSegment);
    if (!tenant) return tenantNotFound(req, tenantSegment);
    const redirectUri = req.query.get('redirect_uri');
    if (!redirectUri || !isReplyUrl(redirectUri) || (app.redirectUris.length > 0 && !app.redirectUris.includes(redirectUri))) {
      return aadError(
        req,
        400,
        'invalid_request',
        50011,
        `The redirect URI '${redirectUri ?? ''}' specified in the request does not match the redirect URIs configured for the application '${app.clientId}'.`,
      );
    }
    const target = new URL(redirectUri);
    const state = req.query.get('state');
    if (tenant.consentAnswer === 'decline') {
      target.searchParams.set('error', 'access_denied');
      target.searchParams.set('error_description', 'AADSTS65004: User declined to consent to access the app.');
    } else {
      this.state.grantConsent(tenant, app);
      target.searchParams.set('admin_consent', 'True');
      target.searchParams.set('tenant', tenant.tenantId);
      if (v2) target.searchParams.set('scope', req.query.get('scope') ?? '');
    }
    if (state !== null) target.searchParams.set('state', state);
    return { status: 302, headers: { Location: target.toString(), 'Cache-Control': 'no-store, no-cache' } };
  }

  /** I3: checks in the order Entra applies them, so each misconfiguration has one error. */
  private token(req: EmuRequest, tenantSegment: string): EmuResponse {
    const form = new URLSearchParams(req.rawBody);
    const grantType = form.get('grant_type');
    if (!grantType)
      return aadError(req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
    if (grantType !== 'client_credentials')
      return aadError(req, 400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'.`);
    const tenant = this.state.tenant(tenantSegment);
    if (!tenant) return tenantNotFound(req, tenantSegment);
    const clientId = form.get('client_id');
    if (!clientId)
      return aadError(req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
    const app = tenant.apps.get(clientId.toLowerCase());
    if (!app && tenant.revokedConsents.get(clientId.toLowerCase())?.how === 'permissions') {
      // The service principal is still there but its granted permissions are gone.
      return aadError(
        req,
        400,
        'invalid_grant',
        65001,
        `The user or administrator has not consented to use the application with ID '${clientId}'. Send an interactive authorization request for this user and resource.`,
        {},
        { suberror: 'consent_required' },
      );
    }
    if (!app) return appNotFound(req, clientId, tenant.tenantId);
    const credentialError = this.checkCredentials(req, form, app);
    if (credentialError) return credentialError;

    const scope = form.get('scope');
    if (!scope) return aadError(req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'scope'.");
    const scopes = scope.split(' ').filter((s) => s && !['openid', 'profile', 'offline_access'].includes(s));
    if (scopes.length !== 1) {
      return aadError(
        req,
        400,
        'invalid_scope',
        70011,
        `The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
      );
    }
    const only = scopes[0]!;
    if (!only.endsWith('/.default')) {
      return aadError(
        req,
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${only} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const resource = only.slice(0, -'/.default'.length);
    const audience = audienceForResource(resource);
    if (!audience) {
      return aadError(
        req,
        400,
        'invalid_resource',
        500011,
        `The resource principal named ${resource} was not found in the tenant named ${tenant.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
      );
    }

    const lifetime = this.state.settings.tokenLifetimeSeconds;
    const accessToken = this.tokens.issue({
      tenantId: tenant.tenantId,
      clientId: app.clientId,
      audience,
      roles: rolesForAudience(app.roles, audience),
      nowSeconds: Math.floor(this.state.now().getTime() / 1000),
      lifetimeSeconds: lifetime,
    });
    return json(
      200,
      { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken },
      { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' },
    );
  }

  private checkCredentials(req: EmuRequest, form: URLSearchParams, app: App): EmuResponse | undefined {
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      if (secret === app.clientSecret) return undefined;
      return aadError(
        req,
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`,
      );
    }
    if (assertion !== null) return this.checkAssertion(req, form, app, assertion);
    return aadError(
      req,
      401,
      'invalid_client',
      7000216,
      "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
    );
  }

  /**
   * I4. The AADSTS codes other than 700027 are the emulator's choice. jti reuse is deliberately
   * accepted: msal-node reuses one assertion for its 10-minute lifetime.
   */
  private checkAssertion(req: EmuRequest, form: URLSearchParams, app: App, assertion: string): EmuResponse | undefined {
    const invalid = (code: number, message: string): EmuResponse => aadError(req, 401, 'invalid_client', code, message);
    if (form.get('client_assertion_type') !== ASSERTION_TYPE) {
      return aadError(req, 400, 'invalid_request', 700024, `client_assertion_type must be '${ASSERTION_TYPE}'.`);
    }
    const parts = assertion.split('.');
    if (parts.length !== 3) return invalid(50027, 'JWT token is invalid or malformed.');
    const [h, p, s] = parts as [string, string, string];
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return invalid(50027, 'JWT token is invalid or malformed.');
    }
    const cert = app.certificates.find((c) => (header['x5t#S256'] !== undefined ? c.x5tS256 === header['x5t#S256'] : c.x5t === header.x5t));
    if (!cert) return invalid(700027, 'Client assertion contains an invalid signature. [Reason - The key was not found.]');
    const data = Buffer.from(`${h}.${p}`);
    const signature = Buffer.from(s, 'base64url');
    const valid =
      header.alg === 'RS256'
        ? cryptoVerify('sha256', data, cert.publicKey, signature)
        : header.alg === 'PS256'
          ? cryptoVerify(
              'sha256',
              data,
              { key: cert.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
              signature,
            )
          : false;
    if (!valid) return invalid(700027, 'Client assertion contains an invalid signature. [Reason - The signature is invalid.]');
    if (claims.iss !== app.clientId || claims.sub !== app.clientId) {
      return invalid(700021, "Client assertion application identifier doesn't match 'client_id' parameter.");
    }
    const tokenEndpoint = `${req.baseUrl}/${tenantPathSegment(req)}/oauth2/v2.0/token`.toLowerCase();
    if (typeof claims.aud !== 'string' || claims.aud.toLowerCase() !== tokenEndpoint) {
      return invalid(700022, `Client assertion audience claim does not match the token endpoint '${tokenEndpoint}'.`);
    }
    const now = Math.floor(this.state.now().getTime() / 1000);
    const exp = typeof claims.exp === 'number' ? claims.exp : 0;
    const nbf = typeof claims.nbf === 'number' ? claims.nbf : 0;
    if (now >= exp || nbf > now + 300) return invalid(700024, 'Client assertion is not within its valid time range.');
    return undefined;
  }
}

function isReplyUrl(raw: string): boolean {
  try {
    const u = new URL(raw);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

function tenantPathSegment(req: EmuRequest): string {
  return req.pathname.split('/').filter(Boolean)[0] ?? '';
}
