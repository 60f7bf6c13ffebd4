/**
 * Bearer keys and the tenant they act for (docs/http-contract.md, Conventions and Tenants). Three roles:
 * the mdm key may only send events, the admin key may do everything else for its tenant, the operator
 * key (the partner's staff) manages tenants and acts as any tenant's admin, naming it with X-Tenant-Id.
 * Missing or unknown key: 401; a valid key of another role: 403; a tenant the key does not reach: 404.
 *
 * Where keys come from:
 * - MDM_API_KEY / ADMIN_API_KEY: the single tenant of AZURE_TENANT_ID; OPERATOR_API_KEY: the operator.
 *   Compared in constant time (SHA-256 digests, so the lengths are equal too); a token that named a
 *   caller is then remembered (a bounded map), so the next requests skip the digest.
 * - Each registered tenant's own keys: looked up by digest in `tenant_api_keys`, kept in memory for a
 *   while, so a known key keeps working (events keep being accepted) while Postgres is down.
 * Keys are never logged; only their digests are stored.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { TenantState } from '../db/tenants';
import type { AppEnv } from './context';
import { ProblemError, notFound, problem, validationError } from './problems';

export type Role = 'mdm' | 'admin' | 'operator';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** `Bearer <token>`: the scheme is case-insensitive (RFC 7235); the token has no whitespace. */
const BEARER = /^Bearer +([^\s]+) *$/i;

/** The token of an Authorization header, or null when it is not one bearer token. */
export function bearerToken(authorization: string | undefined): string | null {
  if (authorization === undefined || authorization.length > 4096) return null;
  return BEARER.exec(authorization)?.[1] ?? null;
}

export type Authenticator = (authorization: string | undefined) => Role | null;

type EnvKeys = { mdm?: string; admin?: string; operator?: string };

/** The role of the environment's key whose digest is `given`, or null; every comparison runs, whatever the outcome of the others. */
function envKeyMatcher(keys: EnvKeys): (given: Buffer) => Role | null {
  const known = (['admin', 'mdm', 'operator'] as const).map((role) => ({ role, digest: keys[role] ? digest(keys[role]) : null }));
  return (given) => {
    let found: Role | null = null;
    for (const k of known) if (k.digest !== null && timingSafeEqual(given, k.digest) && found === null) found = k.role;
    return found;
  };
}

/** The keys of the environment: which role, if any, an Authorization header carries. */
export function createAuthenticator(keys: EnvKeys): Authenticator {
  const match = envKeyMatcher(keys);
  return (authorization) => {
    const token = bearerToken(authorization);
    return token === null ? null : match(digest(token));
  };
}

/** Who is calling: the role of the key and the tenant it acts for. */
export interface Principal {
  role: Role;
  /** The tenant the request acts for; null only for an operator on the tenant routes. */
  tenantId: string | null;
  /** `environment`: MDM_API_KEY / ADMIN_API_KEY / OPERATOR_API_KEY; `tenant`: a registered tenant's own key. */
  source: 'environment' | 'tenant';
  /** Hex SHA-256 of the key (a console session refers to it; the key itself is never kept). */
  keyDigest: string;
}

/** A tenant key as the registry knows it (db/tenants.ts findTenantKey plus the tenant's state). */
export interface TenantKeyRecord {
  tenantId: string;
  role: 'mdm' | 'admin';
  tenantState: TenantState;
}

export interface KeyResolverOptions {
  keys: EnvKeys;
  /** The tenant of MDM_API_KEY / ADMIN_API_KEY, and the operator's when it names none. */
  envTenantId: string;
  /** A tenant key by its hex digest; null when no live key has it. */
  findKey(digestHex: string): Promise<TenantKeyRecord | null>;
  /** A registered tenant's state, null when there is no such tenant. */
  findTenant(tenantId: string): Promise<TenantState | null>;
  /** How long a looked-up answer is used without asking Postgres again (default 30 s). */
  trustMs?: number;
  /** How long an unknown key or tenant is remembered as unknown (default 2 s: a new tenant works at once). */
  negativeTrustMs?: number;
  /** Bound on remembered answers (the oldest go first). */
  maxEntries?: number;
  /** Bound on remembered tokens (see `TokenFacts`; default 1,000). */
  maxTokens?: number;
  now?: () => number;
}

interface CacheEntry<T> {
  value: T;
  until: number;
}

/**
 * A bounded map of looked-up answers. A fresh entry is used as is; a stale one is looked up again,
 * and a stale positive answer is still used when the lookup fails (Postgres down), so a key seen
 * before keeps working. A stale "unknown" is not: that answers 503, not 401.
 */
class LookupCache<T> {
  private readonly entries = new Map<string, CacheEntry<T>>();
  constructor(
    private readonly max: number,
    private readonly now: () => number,
  ) {}

  async get(key: string, lookup: () => Promise<T>, trustFor: (value: T) => number): Promise<T> {
    const entry = this.entries.get(key);
    if (entry && this.now() < entry.until) return entry.value;
    let value: T;
    try {
      value = await lookup();
    } catch (err) {
      if (entry && entry.value !== null) return entry.value;
      throw err;
    }
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until: this.now() + trustFor(value) });
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  deleteWhere(pred: (key: string, value: T) => boolean): void {
    for (const [k, e] of this.entries) if (pred(k, e.value)) this.entries.delete(k);
  }
}

/** A tenant id as X-Tenant-Id may carry it (Entra tenant ids are GUIDs; the single tenant's may be any id). */
const TENANT_ID = /^[A-Za-z0-9._:-]{1,128}$/;
export const TENANT_HEADER = 'x-tenant-id';

export interface KeyResolver {
  /** The caller of a request, or null for a missing or unknown key; throws when Postgres is needed and down. */
  resolve(authorization: string | undefined, tenantHeader: string | undefined): Promise<Principal | null>;
  /** The role and tenant of a key digest (console sessions); null when the key is not live any more. */
  resolveDigest(digestHex: string): Promise<Principal | null>;
  /** Forgets what is remembered of these keys (rotated) or of this tenant (state changed, offboarded). */
  forgetKeys(digestsHex: readonly string[]): void;
  forgetTenant(tenantId: string): void;
  /** How many tokens are remembered (see `TokenFacts`); for tests and diagnostics. */
  readonly tokensRemembered: number;
}

/**
 * What a token that resolved to a caller always resolves to: its digest and, for a key of the
 * environment, its role (those never change while the process runs). A tenant key's role, tenant
 * and liveness are not here: they go through the looked-up answers and their trust as before, so a
 * rotated or revoked key stops working within the same bound. Saves the SHA-256 digests and
 * comparisons of every request.
 */
interface TokenFacts {
  digestHex: string;
  envRole: Role | null;
}

/** Longer tokens are not remembered: no key of ours is that long, and they would bloat the map. */
const MAX_REMEMBERED_TOKEN = 256;

export function createKeyResolver(o: KeyResolverOptions): KeyResolver {
  const now = o.now ?? Date.now;
  const trustMs = o.trustMs ?? 30_000;
  const negativeTrustMs = o.negativeTrustMs ?? 2_000;
  const keys = new LookupCache<TenantKeyRecord | null>(o.maxEntries ?? 10_000, now);
  const tenants = new LookupCache<TenantState | null>(o.maxEntries ?? 10_000, now);
  const envDigests = new Map<string, Role>();
  for (const role of ['mdm', 'admin', 'operator'] as const) {
    const key = o.keys[role];
    if (key) envDigests.set(digest(key).toString('hex'), role);
  }
  const matchEnvKey = envKeyMatcher(o.keys);
  const tokens = new Map<string, TokenFacts>();
  const maxTokens = o.maxTokens ?? 1_000;
  /**
   * The facts of a token, from the map or computed (digest, constant-time comparison with the
   * environment's keys). The map is keyed by the token itself: a lookup compares the given string
   * with a held one only when their hashes (seeded at random per process) collide.
   */
  function factsOf(token: string): { facts: TokenFacts; remembered: boolean } {
    const known = tokens.get(token);
    if (known !== undefined) return { facts: known, remembered: true };
    const given = digest(token);
    return { facts: { digestHex: given.toString('hex'), envRole: matchEnvKey(given) }, remembered: false };
  }
  function remember(token: string, facts: TokenFacts): void {
    if (token.length > MAX_REMEMBERED_TOKEN) return;
    if (tokens.size >= maxTokens) tokens.delete(tokens.keys().next().value!);
    tokens.set(token, facts);
  }
  // An offboarding tenant's keys stop working at once; other states are looked up again soon, so that
  // an activation is seen quickly by every replica.
  const keyTrust = (r: TenantKeyRecord | null) => (r === null ? negativeTrustMs : r.tenantState === 'active' ? trustMs : negativeTrustMs);
  const tenantTrust = (s: TenantState | null) => (s === 'active' ? trustMs : negativeTrustMs);

  async function tenantKey(digestHex: string): Promise<Principal | null> {
    const record = await keys.get(digestHex, () => o.findKey(digestHex), keyTrust);
    if (record === null || record.tenantState === 'offboarding') return null;
    return { role: record.role, tenantId: record.tenantId, source: 'tenant', keyDigest: digestHex };
  }

  /** The tenant an operator names: the single tenant, or a registered one (else 404). */
  async function operatorTenant(header: string | undefined): Promise<string | null> {
    if (header === undefined || header === '' || header === o.envTenantId) return o.envTenantId || null;
    if (!TENANT_ID.test(header)) {
      throw validationError('Invalid header', [{ path: 'X-Tenant-Id', message: 'Not a tenant id' }]);
    }
    const state = await tenants.get(header, () => o.findTenant(header), tenantTrust);
    if (state === null) throw notFound(`No tenant "${header}"`);
    return header;
  }

  return {
    async resolve(authorization, tenantHeader) {
      const token = bearerToken(authorization);
      if (token === null) return null;
      const { facts, remembered } = factsOf(token);
      const { digestHex, envRole } = facts;
      let principal: Principal | null;
      if (envRole === 'operator') {
        principal = { role: 'operator', tenantId: await operatorTenant(tenantHeader), source: 'environment', keyDigest: digestHex };
      } else if (envRole !== null) {
        principal = { role: envRole, tenantId: o.envTenantId, source: 'environment', keyDigest: digestHex };
      } else {
        principal = await tenantKey(digestHex);
      }
      // Only tokens that named a caller: unknown ones would only push the known ones out.
      if (principal !== null && !remembered) remember(token, facts);
      if (envRole === 'operator') return principal;
      // A tenant's key names no other tenant: another one's data does not exist for it.
      if (principal && tenantHeader !== undefined && tenantHeader !== '' && tenantHeader !== principal.tenantId) {
        throw notFound(`No tenant "${tenantHeader}" for this key`);
      }
      return principal;
    },
    async resolveDigest(digestHex) {
      const envRole = envDigests.get(digestHex);
      if (envRole !== undefined) {
        return { role: envRole, tenantId: envRole === 'operator' ? null : o.envTenantId, source: 'environment', keyDigest: digestHex };
      }
      return tenantKey(digestHex);
    },
    forgetKeys(digestsHex) {
      for (const d of digestsHex) keys.delete(d);
    },
    forgetTenant(tenantId) {
      tenants.delete(tenantId);
      keys.deleteWhere((_, r) => r?.tenantId === tenantId);
    },
    get tokensRemembered() {
      return tokens.size;
    },
  };
}

const ROUTES_OF: Record<Role, string> = {
  mdm: 'the mdm key may only send events (POST /v1/devices/{deviceId}/events, POST /v1/events)',
  admin: 'the admin key may not send MDM events (use the mdm key) nor manage tenants (use the operator key)',
  operator: "the operator key manages tenants and acts as a tenant's admin (name it with X-Tenant-Id); events need the tenant's mdm key",
};

const ROLES_ALLOWED: Record<Role, readonly Role[]> = {
  mdm: ['mdm'],
  // The operator acts as any tenant's admin.
  admin: ['admin', 'operator'],
  operator: ['operator'],
};

/**
 * Route middleware: 401 without a known key, 403 with a key of a role the route does not take, 404
 * when the key names a tenant it does not reach; otherwise the request's `principal` and `tenantId`
 * are set. The console's in-process calls carry their already-checked principal in the request environment.
 */
export function requireRole(resolver: KeyResolver, role: Role): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const inProcess = (c.env as { consolePrincipal?: Principal } | undefined)?.consolePrincipal;
    const principal = inProcess ?? (await resolver.resolve(c.req.header('authorization'), c.req.header(TENANT_HEADER)));
    if (principal === null) {
      throw new ProblemError(problem('unauthorized', 'Send "Authorization: Bearer <key>" with an mdm, admin or operator API key'), {
        'WWW-Authenticate': 'Bearer realm="azure-compliance-connector"',
      });
    }
    if (!ROLES_ALLOWED[role].includes(principal.role)) {
      throw new ProblemError(problem('forbidden', `This route needs the ${role} key: ${ROUTES_OF[principal.role]}`));
    }
    if (role !== 'operator' && principal.tenantId === null) {
      throw validationError('Invalid header', [{ path: 'X-Tenant-Id', message: 'Name the tenant this operator request acts for' }]);
    }
    c.set('principal', principal);
    c.set('tenantId', principal.tenantId ?? '');
    await next();
  };
}
