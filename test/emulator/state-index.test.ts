// The emulator's lookups by Entra device id and by UPN go through indexes kept beside its maps; they
// must find what a scan in insertion order would, through seeding, re-seeding and deletion. And its
// journal marks the first request on each connection (how the benchmarks count TLS handshakes).
import assert from 'node:assert/strict';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { DEFAULT_SETTINGS, EmulatorState, findDevice, findUser, removeDevice } from '../../emulator/state';
import { useEmulatorWithTenant } from './helpers';

describe('azure emulator: lookups by device id and UPN', () => {
  it('finds a device by its Entra device id through seeding, re-seeding under a new id, and deletion', () => {
    const state = new EmulatorState({ ...DEFAULT_SETTINGS });
    const tenantId = randomUUID();
    const objectId = randomUUID();
    const [first, second] = [randomUUID(), randomUUID()];
    state.seed({ tenants: [{ tenantId, devices: [{ id: objectId, deviceId: first.toUpperCase(), displayName: 'iPhone' }] }] });
    const t = state.ensureTenant(tenantId);
    assert.equal(findDevice(t, first)?.id, objectId, 'found case-insensitively');

    state.seed({ tenants: [{ tenantId, devices: [{ id: objectId, deviceId: second }] }] });
    assert.equal(findDevice(t, second)?.id, objectId);
    assert.equal(findDevice(t, first), undefined, 'the old device id no longer finds it');

    // Two devices claiming one device id (seeded so): the first one is found, then the other once it goes.
    const twin = randomUUID();
    state.seed({ tenants: [{ tenantId, devices: [{ id: twin, deviceId: second }] }] });
    assert.equal(findDevice(t, second)?.id, objectId);
    removeDevice(t, findDevice(t, second)!);
    assert.equal(findDevice(t, second)?.id, twin);
    removeDevice(t, findDevice(t, second)!);
    assert.equal(findDevice(t, second), undefined);
    assert.equal(t.devices.size, 0);
  });

  it('finds a user by object id or UPN (any case), and by the new UPN after a re-seed', () => {
    const state = new EmulatorState({ ...DEFAULT_SETTINGS });
    const tenantId = randomUUID();
    const id = randomUUID();
    state.seed({ tenants: [{ tenantId, users: [{ id, userPrincipalName: 'Alice@Contoso.example' }] }] });
    const t = state.ensureTenant(tenantId);
    assert.equal(findUser(t, 'alice@contoso.example')?.id, id);
    assert.equal(findUser(t, id.toUpperCase())?.id, id);
    state.seed({ tenants: [{ tenantId, users: [{ id, userPrincipalName: 'alice.new@contoso.example' }] }] });
    assert.equal(findUser(t, 'alice.new@contoso.example')?.id, id);
    assert.equal(findUser(t, 'alice@contoso.example'), undefined);
    const made = state.newUser(t, 'bob@contoso.example');
    assert.equal(findUser(t, 'BOB@contoso.example'), made);
  });
});

describe('azure emulator: the journal marks a new connection', () => {
  const env = useEmulatorWithTenant();

  it('marks the first request on each connection and not the ones that reuse it', async () => {
    await env.emu.control.clearRequests();
    const get = (agent: https.Agent) =>
      new Promise<void>((resolve, reject) => {
        https
          .get(`${env.emu.url}/v1.0/users('nobody@contoso.example')`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve());
          })
          .on('error', reject);
      });
    const kept = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const other = new https.Agent({ keepAlive: true, maxSockets: 1 });
    await get(kept);
    await get(kept);
    await get(other);
    await get(kept);
    kept.destroy();
    other.destroy();
    const marks = (await env.emu.control.requests({ service: 'graph' })).map((e) => e.newConnection === true);
    assert.deepEqual(marks, [true, false, true, false]);
  });
});
