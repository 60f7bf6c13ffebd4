/**
 * Mocha root hooks: bring the real parts up once for the whole run and tear them down after.
 * A missing `temporal` binary fails the run with the command that installs it; nothing is skipped.
 */
import { randomUUID } from 'node:crypto';
import { Runtime, DefaultLogger, bundleWorkflowCode, NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../config';
import { createDb, migrateToLatest } from '../../db';
import { createScratchDatabase } from '../../db/scratch';
import { startEmulator } from '../../emulator';
import { findTemporalCli, INSTALL_HINT } from '../../lib/temporal-cli';
import { ALL_SEARCH_ATTRIBUTE_KEYS } from '../../workflows/search-attributes';
import { WORKFLOW_BUNDLE_OPTIONS } from '../../workers/workflow-bundle';
import { setTestEnv, type TestEnv } from '../support/env';
import { testPostgres } from '../support/fallback-postgres';

const config = loadConfig();
let env: TestEnv | undefined;
let dropDatabase: (() => Promise<void>) | undefined;
let stopPostgres: (() => Promise<void>) | undefined;

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(180_000);
    // Activity retries (throttling, faults) are expected in these tests: show only errors.
    Runtime.install({ logger: new DefaultLogger('ERROR') });

    const temporalCli = findTemporalCli(config.temporal.cliPath);
    if (!temporalCli) throw new Error(`cannot run the tests: ${INSTALL_HINT}`);

    const postgres = await testPostgres(config.databaseUrl);
    stopPostgres = () => postgres.stop();
    const adminDatabaseUrl = postgres.adminUrl;
    const scratch = await createScratchDatabase(adminDatabaseUrl, 'acc_test');
    dropDatabase = () => scratch.drop();
    const databaseUrl = scratch.databaseUrl;
    const db = createDb(databaseUrl, { max: 20 });
    await migrateToLatest(db);

    const testEnv = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalCli },
        searchAttributes: [...ALL_SEARCH_ATTRIBUTE_KEYS],
        extraArgs: ['--log-level', 'error'],
      },
    });
    const nativeConnection = await NativeConnection.connect({ address: testEnv.address });

    const emulator = await startEmulator({ port: 0 });
    const tenantId = randomUUID();
    const azure = {
      tenantId,
      clientId: randomUUID(),
      clientSecret: `secret-${randomUUID()}`,
      authorityHost: emulator.url,
      graphBaseUrl: emulator.url,
      requestTimeoutMs: 10_000,
    };
    await emulator.control.seed({
      tenants: [{ tenantId, apps: [{ clientId: azure.clientId, clientSecret: azure.clientSecret }] }],
    });

    let bundle: Promise<NonNullable<WorkerOptions['workflowBundle']>> | undefined;
    env = {
      temporalCli,
      testEnv,
      temporalClient: testEnv.client,
      connection: testEnv.connection,
      nativeConnection,
      namespace: testEnv.namespace ?? 'default',
      temporalAddress: testEnv.address,
      databaseUrl,
      adminDatabaseUrl,
      db,
      emulator,
      azure,
      tenantId,
      workflowBundle: () => (bundle ??= bundleWorkflowCode({ ...WORKFLOW_BUNDLE_OPTIONS, logger: new DefaultLogger('WARN') })),
    };
    setTestEnv(env);
  },

  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    setTestEnv(undefined);
    if (env) {
      await env.emulator.close();
      await env.nativeConnection.close();
      await env.testEnv.teardown();
      await env.db.destroy();
    }
    await dropDatabase?.();
    await stopPostgres?.();
  },
};
