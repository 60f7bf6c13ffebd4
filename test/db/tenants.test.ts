// The tenant registry's queries (db/tenants.ts) against the real Postgres.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { getSettings, upsertDeviceProjection } from '../../db/data';
import {
  apiKeyDigest,
  beginOffboarding,
  countDevicesByTenant,
  createTenant,
  ensureActiveTenant,
  findTenantKey,
  getOffboarding,
  getTenant,
  listTenants,
  removeTenantData,
  rotateTenantKeys,
  setTenantState,
  acceptConsent,
  getConsentRequest,
  undoConsent,
} from '../../db/tenants';
import { testEnv } from '../support/env';

function newTenant(tenantId: string = randomUUID()) {
  return {
    tenantId,
    displayName: `Contoso ${tenantId.slice(0, 4)}`,
    keys: [
      { digest: apiKeyDigest(`mdm-${tenantId}`), role: 'mdm' as const },
      { digest: apiKeyDigest(`admin-${tenantId}`), role: 'admin' as const },
    ],
    consentState: randomUUID(),
  };
}

describe('db: the tenant registry', () => {
  it('registers a tenant pending consent with its keys and consent request, once', async () => {
    const { db } = testEnv();
    const t = newTenant();
    const created = await createTenant(db, t);
    assert.equal(created?.state, 'pending-consent');
    assert.equal(await createTenant(db, { ...t, consentState: randomUUID() }), null);
    assert.deepEqual(await findTenantKey(db, apiKeyDigest(`admin-${t.tenantId}`)), {
      tenantId: t.tenantId,
      role: 'admin',
      tenantState: 'pending-consent',
    });
    assert.equal(await findTenantKey(db, apiKeyDigest('never issued')), null);
    assert.equal((await getSettings(db, t.tenantId)).enabled, true);
  });

  it('accepts a consent state once (then replayed; a state never issued is unknown), and can undo it', async () => {
    const { db } = testEnv();
    const t = newTenant();
    await createTenant(db, t);
    const uses = await Promise.all([acceptConsent(db, t.consentState), acceptConsent(db, t.consentState)]);
    assert.deepEqual(uses.map((u) => u.outcome).sort(), ['consented', 'replayed']);
    assert.equal((await getTenant(db, t.tenantId))?.state, 'consented');
    assert.deepEqual(await acceptConsent(db, randomUUID()), { outcome: 'unknown' });

    await undoConsent(db, t.consentState, t.tenantId, { state: 'pending-consent', stateReason: null });
    assert.equal((await getTenant(db, t.tenantId))?.state, 'pending-consent');
    assert.equal((await getConsentRequest(db, t.consentState))?.usedAt, null);
    assert.equal((await acceptConsent(db, t.consentState)).outcome, 'consented');
  });

  it('moves states only from the allowed ones and stamps their times', async () => {
    const { db } = testEnv();
    const t = newTenant();
    await createTenant(db, t);
    assert.equal(await setTenantState(db, t.tenantId, 'active', { from: ['consented'] }), null);
    const consented = await setTenantState(db, t.tenantId, 'consented', { from: ['pending-consent'] });
    assert.ok(consented?.consentedAt);
    const active = await setTenantState(db, t.tenantId, 'active', { from: ['consented'] });
    assert.equal(active?.state, 'active');
    assert.ok(active?.activatedAt);
  });

  it('registers the single tenant active, and a restart keeps whatever state it reached', async () => {
    const { db } = testEnv();
    const tenantId = randomUUID();
    assert.equal((await ensureActiveTenant(db, tenantId, 'env')).state, 'active');
    await setTenantState(db, tenantId, 'consent-revoked', { reason: 'consent withdrawn' });
    assert.equal((await ensureActiveTenant(db, tenantId, 'env')).state, 'consent-revoked');
  });

  it('rotates keys: the old ones stop resolving, the new ones resolve', async () => {
    const { db } = testEnv();
    const t = newTenant();
    await createTenant(db, t);
    const fresh = [{ digest: apiKeyDigest(`new-${t.tenantId}`), role: 'admin' as const }];
    const revoked = await rotateTenantKeys(db, t.tenantId, fresh);
    assert.deepEqual(revoked?.sort(), t.keys.map((k) => k.digest).sort());
    assert.equal(await findTenantKey(db, t.keys[1]!.digest), null);
    assert.deepEqual(await findTenantKey(db, fresh[0]!.digest), { tenantId: t.tenantId, role: 'admin', tenantState: 'pending-consent' });
    assert.equal(await rotateTenantKeys(db, randomUUID(), fresh), null);
  });

  it('lists tenants by id with a keyset cursor', async () => {
    const { db } = testEnv();
    const ids: string[] = [randomUUID(), randomUUID(), randomUUID()].sort();
    for (const id of ids) await createTenant(db, newTenant(id));
    const all = (await listTenants(db, 10_000)).map((t) => t.tenantId);
    assert.deepEqual(
      all.filter((id) => ids.includes(id)),
      ids,
    );
    const afterFirst: string[] = (await listTenants(db, 10_000, ids[0])).map((t) => t.tenantId);
    assert.ok(!afterFirst.includes(ids[0]!) && afterFirst.includes(ids[1]!));
  });

  it('offboards: the record is kept, every row of the tenant goes, other tenants keep theirs', async () => {
    const { db } = testEnv();
    const gone = newTenant();
    const kept = newTenant();
    await createTenant(db, gone);
    await createTenant(db, kept);
    for (const t of [gone, kept]) {
      await upsertDeviceProjection(db, {
        tenantId: t.tenantId,
        deviceId: 'd-1',
        platform: 'iOS',
        azureDeviceId: null,
        clientStatusCode: null,
        userPrincipalName: null,
        complianceStatus: 'Successful',
        reportTime: null,
        policyAction: null,
        reportedCompliance: null,
        managementState: null,
        inventory: null,
        lastAttemptAt: null,
        lastSuccessfulReportAt: null,
        lastError: null,
        retiredAt: null,
        version: 1,
      });
    }
    const operationId = randomUUID();
    const started = await beginOffboarding(db, { tenantId: gone.tenantId, operationId, reportNotManaged: true });
    assert.equal(started?.record.displayName, gone.displayName);
    assert.equal(started?.before.state, 'pending-consent');
    assert.equal((await getTenant(db, gone.tenantId))?.state, 'offboarding');
    assert.equal(await beginOffboarding(db, { tenantId: gone.tenantId, operationId: randomUUID(), reportNotManaged: false }), null);

    assert.deepEqual(await removeTenantData(db, gone.tenantId, { operationId, devicesReported: 1 }), { devicesRemoved: 1 });
    assert.deepEqual(await removeTenantData(db, gone.tenantId, { operationId, devicesReported: 1 }), { devicesRemoved: 0 });
    assert.equal(await getTenant(db, gone.tenantId), null);
    assert.equal(await findTenantKey(db, gone.keys[0]!.digest), null);
    const record = await getOffboarding(db, operationId);
    assert.equal(record?.devicesRemoved, 1);
    assert.ok(record?.completedAt);

    const counts = await countDevicesByTenant(db, [gone.tenantId, kept.tenantId]);
    assert.equal(counts.get(gone.tenantId), undefined);
    assert.deepEqual(counts.get(kept.tenantId), { total: 1, Successful: 1, Failed: 0, 'In-progress': 0 });
  });
});
