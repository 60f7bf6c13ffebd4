// Bearer-token checks shared by Graph and the Intune partner API: 401 with WWW-Authenticate
// for a missing, malformed, expired, revoked or wrong-audience token; 403 when a role is missing.
import { graphError, type EmuRequest, type EmuResponse } from './http';
import type { EmulatorState, Tenant } from './state';
import type { TokenClaims, TokenService } from './tokens';

export type AuthResult = { ok: true; claims: TokenClaims; tenant: Tenant } | { ok: false; response: EmuResponse };

const MESSAGES = {
  missing: 'Access token is empty.',
  malformed: 'CompactToken parsing failed with error code: 80049217',
  signature: 'Access token validation failure. Invalid signature.',
  expired: 'Access token has expired or is not yet valid.',
  revoked: 'Access token has expired or is not yet valid.',
  audience: 'Access token validation failure. Invalid audience.',
  tenant: 'Access token validation failure. The tenant of the token does not exist.',
} as const;

export function unauthorized(req: EmuRequest, reason: keyof typeof MESSAGES, resourceAppId: string): EmuResponse {
  const wwwAuthenticate = `Bearer realm="", authorization_uri="${req.baseUrl}/common/oauth2/authorize", client_id="${resourceAppId}"`;
  return graphError(req, 401, 'InvalidAuthenticationToken', MESSAGES[reason], { 'WWW-Authenticate': wwwAuthenticate });
}

export function authenticate(
  req: EmuRequest,
  state: EmulatorState,
  tokens: TokenService,
  audience: string,
  resourceAppId: string,
): AuthResult {
  const authz = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(authz);
  if (!match) return { ok: false, response: unauthorized(req, authz ? 'malformed' : 'missing', resourceAppId) };
  const result = tokens.verify(match[1]!, Math.floor(state.now().getTime() / 1000));
  if (!result.ok) return { ok: false, response: unauthorized(req, result.reason, resourceAppId) };
  if (result.claims.aud !== audience) return { ok: false, response: unauthorized(req, 'audience', resourceAppId) };
  const tenant = state.tenant(result.claims.tid);
  if (!tenant) return { ok: false, response: unauthorized(req, 'tenant', resourceAppId) };
  if (revokedByConsent(tenant, result.claims)) return { ok: false, response: unauthorized(req, 'revoked', resourceAppId) };
  return { ok: true, claims: result.claims, tenant };
}

/** The app's consent in the token's tenant was taken away after the token was issued, or is absent now. */
function revokedByConsent(tenant: Tenant, claims: TokenClaims): boolean {
  const app = claims.appid.toLowerCase();
  return !tenant.apps.has(app) || claims.xms_sn <= (tenant.tokensRevokedThrough.get(app) ?? 0);
}

/** undefined when the token carries one of the roles, else the 403 to send. */
export function requireRole(req: EmuRequest, claims: TokenClaims, anyOf: string[]): EmuResponse | undefined {
  if (claims.roles.some((r) => anyOf.includes(r))) return undefined;
  return graphError(req, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
}
