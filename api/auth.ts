/**
 * Bearer keys of the two roles (docs/http-contract.md, Conventions): the mdm key may only send events, the admin key
 * may do everything else. Missing or unknown key: 401; a valid key of the other role: 403.
 * Keys are compared in constant time (SHA-256 digests, so the lengths are equal too) and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ProblemError, problem } from './problems';

export type Role = 'mdm' | 'admin';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** `Bearer <token>`: the scheme is case-insensitive (RFC 7235); the token has no whitespace. */
const BEARER = /^Bearer +([^\s]+) *$/i;

export type Authenticator = (authorization: string | undefined) => Role | null;

export function createAuthenticator(keys: { mdm?: string; admin?: string }): Authenticator {
  const mdm = keys.mdm ? digest(keys.mdm) : null;
  const admin = keys.admin ? digest(keys.admin) : null;
  return (authorization) => {
    if (authorization === undefined || authorization.length > 4096) return null;
    const match = BEARER.exec(authorization);
    if (!match) return null;
    const given = digest(match[1]!);
    // Both comparisons always run, whatever the outcome of the first.
    const isMdm = mdm !== null && timingSafeEqual(given, mdm);
    const isAdmin = admin !== null && timingSafeEqual(given, admin);
    if (isAdmin) return 'admin';
    if (isMdm) return 'mdm';
    return null;
  };
}

const ROUTES_OF: Record<Role, string> = {
  mdm: 'the mdm key may only send events (POST /v1/devices/{deviceId}/events, POST /v1/events)',
  admin: 'the admin key may not send MDM events; use the mdm key',
};

/** Route middleware: 401 without a known key, 403 with the other role's key. */
export function requireRole(authenticate: Authenticator, role: Role): MiddlewareHandler {
  return async (c, next) => {
    const actual = authenticate(c.req.header('authorization'));
    if (actual === null) {
      throw new ProblemError(problem('unauthorized', 'Send "Authorization: Bearer <key>" with the mdm or admin API key'), {
        'WWW-Authenticate': 'Bearer realm="azure-compliance-connector"',
      });
    }
    if (actual !== role) {
      throw new ProblemError(problem('forbidden', `This route needs the ${role} key: ${ROUTES_OF[actual]}`));
    }
    await next();
  };
}
