// Microsoft's throttling in the emulator (docs/microsoft-protocol.md, Budget): a sliding window per service, tenant
// and app, off until configured, answered like Graph's own 429 with the Retry-After that frees a slot.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  accessToken,
  call,
  GRAPH_SCOPE,
  INTUNE_SCOPE,
  makeCca,
  messageUrl,
  newTenant,
  seedTenant,
  sleep,
  useEmulatorWithTenant,
} from './helpers';

describe('azure emulator: throttling', () => {
  const env = useEmulatorWithTenant();

  it('answers nothing with 429 until a limit is set', async () => {
    const token = await accessToken(makeCca(env.emu, env.t), GRAPH_SCOPE);
    const statuses = await Promise.all(
      Array.from({ length: 30 }, () => call(`${env.emu.url}/v1.0/devices`, { token }).then((r) => r.status)),
    );
    assert.deepEqual(new Set(statuses), new Set([200]));
  });

  it('lets `limit` requests through per window, then answers 429 TooManyRequests with the Retry-After that frees a slot', async () => {
    await env.emu.control.setOptions({ throttle: { intune: { limit: 3, windowSeconds: 2 } } });
    const token = await accessToken(makeCca(env.emu, env.t), INTUNE_SCOPE);
    const url = messageUrl(env.emu, randomUUID());
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(url, { token })).status);
    const throttled = await call(url, { token });
    assert.deepEqual(statuses, [404, 404, 404], 'three requests reach the service (an unknown message is 404)');
    assert.equal(throttled.status, 429);
    assert.equal((throttled.body as { error: { code: string } }).error.code, 'TooManyRequests');
    const retryAfter = Number(throttled.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 2, `Retry-After ${retryAfter}`);
    // A throttled request does not count: once the window has moved on, requests pass again.
    await sleep(retryAfter * 1000 + 50);
    assert.equal((await call(url, { token })).status, 404);
    const journal = await env.emu.control.requests({ service: 'intune' });
    assert.deepEqual(
      journal.map((e) => e.status),
      [404, 404, 404, 429, 404],
    );
  });

  it('counts each tenant and app on its own, and each service on its own', async () => {
    await env.emu.control.setOptions({ throttle: { graph: { limit: 2, windowSeconds: 60 } } });
    const other = newTenant();
    await seedTenant(env.emu, other);
    const mine = await accessToken(makeCca(env.emu, env.t), GRAPH_SCOPE);
    const theirs = await accessToken(makeCca(env.emu, other), GRAPH_SCOPE);
    const devices = (token: string) => call(`${env.emu.url}/v1.0/devices`, { token }).then((r) => r.status);
    assert.deepEqual([await devices(mine), await devices(mine), await devices(mine)], [200, 200, 429]);
    assert.deepEqual([await devices(theirs), await devices(theirs)], [200, 200], 'another tenant has a window of its own');
    const intune = await accessToken(makeCca(env.emu, env.t), INTUNE_SCOPE);
    assert.equal((await call(messageUrl(env.emu, randomUUID()), { token: intune })).status, 404, 'the partner API is not limited');
  });

  it('is cleared by reset', async () => {
    await env.emu.control.setOptions({ throttle: { graph: { limit: 1, windowSeconds: 60 } } });
    const token = await accessToken(makeCca(env.emu, env.t), GRAPH_SCOPE);
    assert.deepEqual(
      [(await call(`${env.emu.url}/v1.0/devices`, { token })).status, (await call(`${env.emu.url}/v1.0/devices`, { token })).status],
      [200, 429],
    );
    await env.emu.control.reset();
    await seedTenant(env.emu, env.t);
    const fresh = await accessToken(makeCca(env.emu, env.t), GRAPH_SCOPE);
    assert.equal((await call(`${env.emu.url}/v1.0/devices`, { token: fresh })).status, 200);
    assert.deepEqual((await env.emu.control.setOptions({})).throttle, {});
  });
});
