/**
 * The real infrastructure every integration test shares, started once per mocha run by
 * test/hooks/root.ts: a Temporal dev server from the CLI, a fresh Postgres database, the Azure
 * emulator over HTTPS, and one workflow bundle.
 */
import type { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import type { Db } from '../../db';
import type { RunningEmulator } from '../../emulator';
import type { AzureCredentials } from '../../config';

export interface TestEnv {
  temporalCli: string;
  testEnv: TestWorkflowEnvironment;
  temporalClient: Client;
  connection: Connection;
  nativeConnection: NativeConnection;
  namespace: string;
  temporalAddress: string;
  databaseUrl: string;
  adminDatabaseUrl: string;
  db: Db;
  emulator: RunningEmulator;
  /** Credentials of the tenant seeded in the emulator for the tests. */
  azure: AzureCredentials;
  tenantId: string;
  workflowBundle(): Promise<NonNullable<WorkerOptions['workflowBundle']>>;
}

let current: TestEnv | undefined;

export function setTestEnv(env: TestEnv | undefined): void {
  current = env;
}

export function testEnv(): TestEnv {
  if (!current) throw new Error('the test environment is not up: run the tests through mocha with the root hook (npm test)');
  return current;
}

let counter = 0;
/** A task queue (and id prefix) of its own per test, so tests never see each other's work. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}
