/**
 * The console's session: a signed, expiring cookie `acc_session` (HttpOnly, SameSite=Strict, Secure
 * behind TLS) and the CSRF tokens of its forms.
 *
 * The signing secret is derived from the admin API key (HMAC with a fixed label), so every API replica
 * verifies every session without shared state, and rotating the admin key signs everyone out. It is
 * never logged. The session names its tenant and role, so a tenant switch (an operator acting for a
 * tenant) is a new session value, not a new mechanism. A session of a registered tenant's own admin key
 * names that key's digest, and lasts only while the key is live.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';

export const SESSION_COOKIE = 'acc_session';
/** The pre-session cookie of the sign-in form (double-submit CSRF token). */
export const SIGN_IN_CSRF_COOKIE = 'acc_sign_in_csrf';
export const CSRF_FIELD = '_csrf';
export const SESSION_TTL_SECONDS = 8 * 60 * 60;

export type ConsoleRole = 'admin';

export interface Session {
  /** Random id of this sign-in: what the audit trail names, and what the CSRF token is bound to. */
  sid: string;
  tenantId: string;
  role: ConsoleRole;
  /** Expiry, seconds since the epoch. */
  exp: number;
  /**
   * Signed in with a registered tenant's own admin key: that key's digest, so the session ends when
   * the key is rotated. Absent for ADMIN_API_KEY (rotating it changes the signing secret).
   */
  kd?: string;
}

export interface SessionCodec {
  issue(tenantId: string, role: ConsoleRole, nowMs?: number, keyDigest?: string): { session: Session; value: string };
  verify(value: string | undefined, nowMs?: number): Session | null;
  csrfToken(session: Session): string;
  checkCsrf(session: Session, token: unknown): boolean;
}

const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

function sameBytes(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function createSessionCodec(adminKey: string): SessionCodec {
  const secret = createHmac('sha256', adminKey).update('azure-compliance-connector console session v1').digest();
  const sign = (data: string): string => createHmac('sha256', secret).update(data).digest('base64url');
  const csrfToken = (s: Session): string => sign(`csrf:${s.sid}`);
  return {
    issue(tenantId, role, nowMs = Date.now(), keyDigest) {
      const session: Session = {
        sid: randomBytes(16).toString('hex'),
        tenantId,
        role,
        exp: Math.floor(nowMs / 1000) + SESSION_TTL_SECONDS,
        ...(keyDigest !== undefined ? { kd: keyDigest } : {}),
      };
      const payload = b64(JSON.stringify(session));
      return { session, value: `${payload}.${sign(`session:${payload}`)}` };
    },
    verify(value, nowMs = Date.now()) {
      if (value === undefined || value.length > 1024) return null;
      const [payload, mac, extra] = value.split('.');
      if (payload === undefined || mac === undefined || extra !== undefined) return null;
      if (!sameBytes(mac, sign(`session:${payload}`))) return null;
      let parsed: Partial<Session>;
      try {
        parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<Session>;
      } catch {
        return null;
      }
      if (
        typeof parsed.sid !== 'string' ||
        typeof parsed.tenantId !== 'string' ||
        parsed.role !== 'admin' ||
        typeof parsed.exp !== 'number' ||
        (parsed.kd !== undefined && typeof parsed.kd !== 'string')
      )
        return null;
      if (parsed.exp * 1000 <= nowMs) return null;
      const session: Session = { sid: parsed.sid, tenantId: parsed.tenantId, role: parsed.role, exp: parsed.exp };
      return parsed.kd !== undefined ? { ...session, kd: parsed.kd } : session;
    },
    csrfToken,
    checkCsrf(session, token) {
      return typeof token === 'string' && sameBytes(token, csrfToken(session));
    },
  };
}

/** Behind TLS: the request came over https, or a proxy says it did. */
export function isSecureRequest(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() === 'https';
}

function cookieOptions(c: Context, maxAge: number) {
  return { path: '/console', httpOnly: true, sameSite: 'Strict' as const, secure: isSecureRequest(c), maxAge };
}

export function setSessionCookie(c: Context, value: string): void {
  setCookie(c, SESSION_COOKIE, value, cookieOptions(c, SESSION_TTL_SECONDS));
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: '/console', secure: isSecureRequest(c) });
}

export function readSessionCookie(c: Context): string | undefined {
  return getCookie(c, SESSION_COOKIE);
}

/** The sign-in form's token: reused from its cookie, or a new one set for 30 minutes. */
export function signInCsrf(c: Context): string {
  const existing = getCookie(c, SIGN_IN_CSRF_COOKIE);
  if (existing !== undefined && /^[A-Za-z0-9_-]{32,64}$/.test(existing)) return existing;
  const token = randomBytes(24).toString('base64url');
  setCookie(c, SIGN_IN_CSRF_COOKIE, token, cookieOptions(c, 30 * 60));
  return token;
}

export function checkSignInCsrf(c: Context, token: unknown): boolean {
  const cookie = getCookie(c, SIGN_IN_CSRF_COOKIE);
  return cookie !== undefined && typeof token === 'string' && sameBytes(cookie, token);
}
