// Access tokens (I5): HS256 JWTs signed with a per-process secret. MSAL treats them as opaque; the
// Graph and Intune handlers verify them against the emulator clock and the revocation watermark.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { newId } from './http';

export const GRAPH_AUDIENCE = 'https://graph.microsoft.com';
export const INTUNE_AUDIENCE = 'https://api.manage.microsoft.com/';
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
export const INTUNE_API_APP_ID = '0000000a-0000-0000-c000-000000000000';

/** Permissions that belong to the Intune API; every other role is a Graph permission. */
const INTUNE_ROLES = new Set(['update_device_attributes']);

/** Maps a resource identifier (the scope without `/.default`) to the audience of its tokens. */
export function audienceForResource(resource: string): string | undefined {
  const r = resource.toLowerCase().replace(/\/+$/, '');
  if (r === GRAPH_AUDIENCE || r === GRAPH_APP_ID) return GRAPH_AUDIENCE;
  if (r === INTUNE_AUDIENCE.replace(/\/$/, '') || r === INTUNE_API_APP_ID) return INTUNE_AUDIENCE;
  return undefined;
}

export function rolesForAudience(roles: string[], audience: string): string[] {
  return roles.filter((r) => (audience === INTUNE_AUDIENCE) === INTUNE_ROLES.has(r));
}

export interface TokenClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  tid: string;
  appid: string;
  oid: string;
  sub: string;
  roles: string[];
  jti: string;
  idtyp: 'app';
  ver: '1.0';
  /** Issue order within this process; revocation invalidates everything at or below a watermark. */
  xms_sn: number;
}

export type VerifyResult = { ok: true; claims: TokenClaims } | { ok: false; reason: 'malformed' | 'signature' | 'expired' | 'revoked' };

function b64(obj: unknown): string {
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

export class TokenService {
  private readonly secret = randomBytes(32);
  private serial = 0;
  private revokedThrough = 0;

  issue(params: {
    tenantId: string;
    clientId: string;
    audience: string;
    roles: string[];
    nowSeconds: number;
    lifetimeSeconds: number;
  }): string {
    const claims: TokenClaims = {
      aud: params.audience,
      iss: `https://sts.windows.net/${params.tenantId}/`,
      iat: params.nowSeconds,
      nbf: params.nowSeconds,
      exp: params.nowSeconds + params.lifetimeSeconds,
      tid: params.tenantId,
      appid: params.clientId,
      oid: params.clientId,
      sub: params.clientId,
      roles: params.roles,
      jti: newId(),
      idtyp: 'app',
      ver: '1.0',
      xms_sn: ++this.serial,
    };
    const signingInput = `${b64({ typ: 'JWT', alg: 'HS256' })}.${b64(claims)}`;
    return `${signingInput}.${this.sign(signingInput)}`;
  }

  /** The serial of the newest token issued (0 before the first). */
  lastSerial(): number {
    return this.serial;
  }

  /** Every token issued so far stops working; tokens issued afterwards are unaffected. */
  revokeAll(): void {
    this.revokedThrough = this.serial;
  }

  verify(token: string, nowSeconds: number): VerifyResult {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'malformed' };
    const [h, p, s] = parts as [string, string, string];
    const expected = Buffer.from(this.sign(`${h}.${p}`));
    const given = Buffer.from(s);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'signature' };
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    if (claims.xms_sn <= this.revokedThrough) return { ok: false, reason: 'revoked' };
    if (nowSeconds >= claims.exp || nowSeconds < claims.nbf) return { ok: false, reason: 'expired' };
    return { ok: true, claims };
  }

  private sign(input: string): string {
    return createHmac('sha256', this.secret).update(input).digest('base64url');
  }
}
