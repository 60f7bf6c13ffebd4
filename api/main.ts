/**
 * The API process: loads the configuration, connects to Postgres and Temporal, serves the Hono app on
 * API_PORT, and shuts down cleanly on SIGINT/SIGTERM (stops accepting, finishes in-flight requests,
 * closes the Temporal connection and the database pool).
 */
import { Client, Connection } from '@temporalio/client';
import { loadProcessConfigOrExit } from '../config';
import { createDb, migrateToLatest } from '../db';
import { SINGLE_TENANT_DISPLAY_NAME, ensureActiveTenant } from '../db/tenants';
import { createLogger } from '../lib/logger';
import { createFleetClient, createScheduleControl } from '../workers/fleet-client';
import { TEMPORAL_CHANNEL_ARGS, createApp } from './app';
import { releaseCallContext } from './dependencies';
import { startApiServer } from './server';

async function main(): Promise<void> {
  // One line naming what is wrong or which required variables are missing (PROCESS_VARIABLES), then exit.
  const config = loadProcessConfigOrExit('api');
  const logger = createLogger(config.logLevel, { service: 'api' });
  const { mdm, admin, operator } = config.keys;
  if (mdm === admin || (operator !== undefined && (operator === mdm || operator === admin))) {
    process.stderr.write('configuration error: MDM_API_KEY, ADMIN_API_KEY and OPERATOR_API_KEY must differ\n');
    process.exit(2);
  }
  const tenantId = config.azure.tenantId;

  const db = createDb(config.databaseUrl);
  try {
    // Idempotent and locked by knex: harmless when the worker migrates at the same time.
    await migrateToLatest(db);
    // Single-tenant mode: the configured tenant is in the registry, active (idempotent).
    await ensureActiveTenant(db, tenantId, SINGLE_TENANT_DISPLAY_NAME);
  } catch (err) {
    logger.warn(
      { err: (err as Error).message },
      'could not apply migrations or register the configured tenant at start (the worker does both too); /readyz tells when Postgres answers',
    );
  }

  const address = config.temporal.address;
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: '5 seconds', channelArgs: TEMPORAL_CHANNEL_ARGS });
  } catch (err) {
    // Serve anyway: routes answer 503 until Temporal answers, then recover by themselves.
    logger.warn({ address, err: (err as Error).message }, 'Temporal is not reachable yet; connecting lazily');
    connection = Connection.lazy({ address, channelArgs: TEMPORAL_CHANNEL_ARGS });
  }
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  // Connecting ran a call under a deadline; nothing does now (see temporalDeadline).
  releaseCallContext(temporal);

  const app = createApp({
    config,
    tenantId,
    db,
    temporal,
    logger,
    // The API's own pool, so the operation row exists when POST /v1/sync answers.
    fleet: createFleetClient(temporal, config, tenantId, { db }),
    schedules: createScheduleControl(temporal, config, tenantId),
  });

  const server = startApiServer(app, {
    port: config.apiPort,
    onListening: (port) => logger.info({ url: `http://127.0.0.1:${port}`, docs: `http://127.0.0.1:${port}/docs` }, 'api listening'),
  });

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'api stopping');
    const force = setTimeout(() => {
      logger.error('in-flight requests did not finish within 10 s: exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    server.close((closeErr) => {
      void (async () => {
        if (closeErr) logger.warn({ err: closeErr.message }, 'server close');
        await connection.close().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'temporal close'));
        await db.destroy().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'db close'));
        logger.info('api stopped');
        process.exit(0);
      })();
    });
    // Idle keep-alive sockets would hold close() open.
    const s = server as { closeIdleConnections?: () => void };
    s.closeIdleConnections?.();
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err) => {
  process.stderr.write(`api failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
