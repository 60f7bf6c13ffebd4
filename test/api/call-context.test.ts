/**
 * temporalDeadline (api/dependencies.ts): Temporal calls run under their gRPC deadline, and once the
 * last one has settled the client's call-context storage is disabled again (while it is enabled,
 * Node runs promise hooks on every promise of the API: docs/benchmarks.md). Against the real dev server.
 */
import { strict as assert } from 'node:assert';
import type { AsyncLocalStorage } from 'node:async_hooks';
import { Client, Connection } from '@temporalio/client';
import { releaseCallContext, temporalDeadline } from '../../api/dependencies';
import { testEnv } from '../support/env';

type Storage = AsyncLocalStorage<{ deadline?: number }> & { enabled?: boolean };

describe('API: Temporal calls under a deadline, call-context storage released after the last', () => {
  let connection: Connection;
  let client: Client;
  let storage: Storage;

  before(async () => {
    connection = await Connection.connect({ address: testEnv().temporalAddress });
    client = new Client({ connection, namespace: testEnv().namespace });
    storage = connection.callContextStorage as Storage;
  });
  after(() => connection.close());

  it('connecting leaves the storage enabled; releaseCallContext disables it', () => {
    // Node 20 keeps the state in `enabled`; the connection ran a call under a deadline when it connected.
    assert.equal(storage.enabled, true);
    releaseCallContext(client);
    assert.equal(storage.enabled, false);
  });

  it('every call in flight keeps its deadline, also once another has settled; the storage is disabled after the last', async () => {
    const first = Date.now() + 5_000;
    const second = Date.now() + 6_000;
    let releaseSecond!: () => void;
    const secondMayEnd = new Promise<void>((r) => (releaseSecond = r));
    const seen: Array<[string, number | undefined]> = [];
    const a = temporalDeadline(client, first, async () => {
      await client.workflowService.getSystemInfo({});
      seen.push(['first', storage.getStore()?.deadline]);
    });
    const b = temporalDeadline(client, second, async () => {
      await secondMayEnd;
      seen.push(['second, after the first settled', storage.getStore()?.deadline]);
      await client.workflowService.getSystemInfo({});
    });
    await a;
    assert.equal(storage.enabled, true, 'still enabled while the second call is in flight');
    releaseSecond();
    await b;
    assert.deepEqual(seen, [
      ['first', first],
      ['second, after the first settled', second],
    ]);
    assert.equal(storage.enabled, false);
  });

  it('a failing call releases the storage too', async () => {
    await assert.rejects(
      temporalDeadline(client, Date.now() + 5_000, async () => {
        throw new Error('refused');
      }),
      /refused/,
    );
    assert.equal(storage.enabled, false);
  });
});
