/**
 * GET /readyz against the real dependencies: 200 with Postgres and a Temporal dev server up, 503
 * naming Temporal once that dev server is stopped, 503 naming Postgres when the database does not
 * answer.
 */
import { strict as assert } from 'node:assert';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { Registry } from 'prom-client';
import { TEMPORAL_CHANNEL_ARGS, createApp, type ApiDeps } from '../../api/app';
import { loadConfig } from '../../config';
import { createDb, type Db } from '../../db';
import { startDevServer, type DevServer } from '../../lib/temporal-cli';
import { freePort } from '../../lib/ports';
import { testEnv } from '../support/env';

interface Readiness {
  status: string;
  checks: { postgres: string; temporal: string };
}

function appWith(db: Db, temporal: Client) {
  const env = testEnv();
  const deps: ApiDeps = {
    config: loadConfig({ MDM_API_KEY: 'mdm-key-readyz-0123456789abcdef', ADMIN_API_KEY: 'admin-key-readyz-0123456789abcdef' }),
    tenantId: env.tenantId,
    db,
    temporal,
    logger: pino({ level: 'silent' }),
    metrics: new Registry(),
    fleet: { start: async () => ({ operationId: 'unused' }) },
    schedules: { setWeeklyReportPaused: async () => undefined, setReconciliation: async () => undefined },
  };
  return createApp(deps);
}

async function readyz(app: ReturnType<typeof createApp>): Promise<{ status: number; body: Readiness; ms: number }> {
  const started = Date.now();
  const res = await app.request('/readyz');
  return { status: res.status, body: (await res.json()) as Readiness, ms: Date.now() - started };
}

describe('GET /readyz with real Postgres and Temporal', function () {
  this.timeout(90_000);
  let server: DevServer | undefined;
  let connection: Connection | undefined;
  let lastCallAt = 0;

  after(async () => {
    // The client keeps retrying a failed call with backoff (its default interceptor, as in the API):
    // closing the channel under a pending retry would throw from a timer. Close it once those are over.
    const c = connection;
    if (c) setTimeout(() => void c.close().catch(() => undefined), Math.max(0, lastCallAt + 10_000 - Date.now())).unref();
    await server?.stop();
  });

  it('answers 200 with both up and 503 naming Temporal once the Temporal server is stopped', async () => {
    server = await startDevServer({ binary: testEnv().temporalCli, port: await freePort(), uiPort: await freePort() });
    connection = await Connection.connect({ address: server.address, channelArgs: TEMPORAL_CHANNEL_ARGS });
    const app = appWith(testEnv().db, new Client({ connection }));

    const up = await readyz(app);
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.deepEqual(up.body, { status: 'ready', checks: { postgres: 'ok', temporal: 'ok' } });

    await server.stop();
    lastCallAt = Date.now();
    const down = await readyz(app);
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assert.equal(down.body.checks.temporal, 'failed');
    assert.equal(down.body.checks.postgres, 'ok');
    assert.ok(down.ms < 5_000, `answered within the readiness timeout (${down.ms} ms)`);
  });

  it('answers 503 naming Postgres when the database does not answer', async () => {
    const closedPort = await freePort();
    const deadDb = createDb(`postgres://postgres:x@127.0.0.1:${closedPort}/nothing`);
    try {
      const app = appWith(deadDb, testEnv().temporalClient);
      const r = await readyz(app);
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.equal(r.body.checks.postgres, 'failed');
      assert.equal(r.body.checks.temporal, 'ok');
    } finally {
      await deadDb.destroy();
    }
  });
});
