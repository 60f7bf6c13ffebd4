// The key resolver (api/auth.ts) as a pure unit, with the registry's lookups played by functions and
// a clock of the test's: what it remembers, for how long, and what it does when Postgres is down.
import assert from 'node:assert/strict';
import { apiKeyDigest } from '../../db/tenants';
import { createKeyResolver, type TenantKeyRecord } from '../../api/auth';
import type { TenantState } from '../../db/tenants';

const KEYS = { mdm: 'env-mdm-key-0123456789', admin: 'env-admin-key-0123456789', operator: 'env-operator-key-0123456789' };
const ENV_TENANT = 'env-tenant';

function fixture() {
  let now = 0;
  let down = false;
  const lookups: string[] = [];
  const keys = new Map<string, TenantKeyRecord>([[apiKeyDigest('tenant-b-mdm'), { tenantId: 'b', role: 'mdm', tenantState: 'active' }]]);
  const tenants = new Map<string, TenantState>([['b', 'active']]);
  const resolver = createKeyResolver({
    keys: KEYS,
    envTenantId: ENV_TENANT,
    findKey: async (d) => {
      lookups.push(d);
      if (down) throw new Error('connect ECONNREFUSED');
      return keys.get(d) ?? null;
    },
    findTenant: async (id) => {
      if (down) throw new Error('connect ECONNREFUSED');
      return tenants.get(id) ?? null;
    },
    trustMs: 30_000,
    negativeTrustMs: 2_000,
    now: () => now,
  });
  return {
    resolver,
    keys,
    lookups,
    advance: (ms: number) => (now += ms),
    setDown: (v: boolean) => (down = v),
  };
}

describe('tenants: the key resolver', () => {
  it('binds the configured keys to the configured tenant, and the operator to the tenant it names', async () => {
    const { resolver } = fixture();
    assert.deepEqual(await resolver.resolve(`Bearer ${KEYS.admin}`, undefined), {
      role: 'admin',
      tenantId: ENV_TENANT,
      source: 'environment',
      keyDigest: apiKeyDigest(KEYS.admin),
    });
    assert.equal((await resolver.resolve(`Bearer ${KEYS.mdm}`, undefined))?.role, 'mdm');
    assert.equal((await resolver.resolve(`Bearer ${KEYS.operator}`, undefined))?.tenantId, ENV_TENANT);
    assert.equal((await resolver.resolve(`Bearer ${KEYS.operator}`, 'b'))?.tenantId, 'b');
    await assert.rejects(resolver.resolve(`Bearer ${KEYS.operator}`, 'nobody'), /No tenant "nobody"/);
    await assert.rejects(resolver.resolve(`Bearer ${KEYS.admin}`, 'b'), /No tenant "b" for this key/);
    assert.equal(await resolver.resolve('Basic abc', undefined), null);
    assert.equal(await resolver.resolve(undefined, undefined), null);
  });

  it('remembers a tenant key, and still resolves it when Postgres is down after the answer went stale', async () => {
    const f = fixture();
    const header = 'Bearer tenant-b-mdm';
    assert.equal((await f.resolver.resolve(header, undefined))?.tenantId, 'b');
    assert.equal((await f.resolver.resolve(header, undefined))?.tenantId, 'b');
    assert.equal(f.lookups.length, 1, 'the second request used the remembered answer');

    f.advance(31_000);
    f.setDown(true);
    assert.equal((await f.resolver.resolve(header, undefined))?.tenantId, 'b', 'stale, Postgres down: still known');
    assert.equal(f.lookups.length, 2, 'it did try Postgres again');
    await assert.rejects(f.resolver.resolve('Bearer never-seen', undefined), /ECONNREFUSED/, 'an unseen key cannot be checked');
  });

  it('forgets rotated keys at once, remembers an unknown key only briefly, and refuses an offboarding tenant’s keys', async () => {
    const f = fixture();
    const header = 'Bearer tenant-b-mdm';
    assert.ok(await f.resolver.resolve(header, undefined));
    f.keys.delete(apiKeyDigest('tenant-b-mdm'));
    f.resolver.forgetKeys([apiKeyDigest('tenant-b-mdm')]);
    assert.equal(await f.resolver.resolve(header, undefined), null);

    // A key registered just after it was tried works within the negative trust.
    f.keys.set(apiKeyDigest('tenant-b-mdm'), { tenantId: 'b', role: 'mdm', tenantState: 'offboarding' });
    assert.equal(await f.resolver.resolve(header, undefined), null, 'still the remembered "unknown"');
    f.advance(2_001);
    assert.equal(await f.resolver.resolve(header, undefined), null, 'an offboarding tenant’s key');
    f.keys.set(apiKeyDigest('tenant-b-mdm'), { tenantId: 'b', role: 'mdm', tenantState: 'active' });
    f.resolver.forgetTenant('b');
    assert.equal((await f.resolver.resolve(header, undefined))?.role, 'mdm');
  });
});

describe('tenants: the key resolver’s remembered tokens', () => {
  it('remembers at most 1,000 tokens, only those that named a caller, none over 256 characters', async () => {
    const f = fixture();
    for (let i = 0; i < 1_005; i++) f.keys.set(apiKeyDigest(`tenant-b-key-${i}`), { tenantId: 'b', role: 'admin', tenantState: 'active' });
    for (let i = 0; i < 1_005; i++) assert.equal((await f.resolver.resolve(`Bearer tenant-b-key-${i}`, undefined))?.role, 'admin');
    assert.equal(f.resolver.tokensRemembered, 1_000);

    const g = fixture();
    assert.equal(await g.resolver.resolve('Bearer unknown-token', undefined), null);
    assert.equal(g.resolver.tokensRemembered, 0, 'an unknown token is not remembered');
    const long = 'k'.repeat(257);
    g.keys.set(apiKeyDigest(long), { tenantId: 'b', role: 'mdm', tenantState: 'active' });
    assert.equal((await g.resolver.resolve(`Bearer ${long}`, undefined))?.role, 'mdm');
    assert.equal(g.resolver.tokensRemembered, 0, 'a 257-character token is not remembered');
    assert.equal((await g.resolver.resolve(`Bearer ${KEYS.admin}`, undefined))?.role, 'admin');
    assert.equal(await g.resolver.resolve(`Bearer ${'k'.repeat(256)}`, undefined), null);
    assert.equal(g.resolver.tokensRemembered, 1, 'the environment’s admin key is');
  });

  it('still answers a remembered token as before: same principal, another tenant named is 404', async () => {
    const f = fixture();
    const first = await f.resolver.resolve(`Bearer ${KEYS.admin}`, undefined);
    assert.deepEqual(await f.resolver.resolve(`Bearer ${KEYS.admin}`, undefined), first);
    await assert.rejects(f.resolver.resolve(`Bearer ${KEYS.admin}`, 'b'), /No tenant "b" for this key/);
    assert.equal((await f.resolver.resolve(`Bearer ${KEYS.operator}`, 'b'))?.tenantId, 'b');
    assert.equal((await f.resolver.resolve(`Bearer ${KEYS.operator}`, undefined))?.tenantId, ENV_TENANT);
    assert.equal((await f.resolver.resolve(`Bearer ${KEYS.mdm}`, undefined))?.role, 'mdm');
  });

  it('rejects a remembered tenant key rotated by another replica once the looked-up answer is stale', async () => {
    const f = fixture();
    const header = 'Bearer tenant-b-mdm';
    assert.equal((await f.resolver.resolve(header, undefined))?.role, 'mdm');
    assert.equal(f.resolver.tokensRemembered, 1);
    // Rotated elsewhere: this process is not told (no forgetKeys).
    f.keys.delete(apiKeyDigest('tenant-b-mdm'));
    f.advance(29_000);
    assert.equal((await f.resolver.resolve(header, undefined))?.role, 'mdm', 'within the trust, as before');
    f.advance(1_001);
    assert.equal(await f.resolver.resolve(header, undefined), null, 'after the trust: rejected');
    assert.equal(f.lookups.length, 2);
  });
});
