/**
 * When no DATABASE_URL is given and nothing listens on 127.0.0.1:5432, the tests run on an embedded
 * Postgres of their own (the same binaries and root handling as `npm start`), in a temporary folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { preparePostgres, waitForPostgres } from '../../lib/embedded-postgres';
import { portOpen } from '../../lib/temporal-cli';
import { freePort } from '../../lib/ports';

export interface TestPostgres {
  adminUrl: string;
  stop(): Promise<void>;
}

export async function testPostgres(databaseUrl: string | undefined): Promise<TestPostgres> {
  if (databaseUrl) return { adminUrl: databaseUrl, stop: async () => {} };
  const local = 'postgres://postgres@127.0.0.1:5432/postgres';
  if (await portOpen(5432)) return { adminUrl: local, stop: async () => {} };
  return startEmbeddedTestPostgres();
}

export async function startEmbeddedTestPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'acc-test-pg-'));
  // mkdtemp makes it 0700; the postgres user (we run as root) must be able to enter it.
  chmodSync(dir, 0o755);
  const prepared = preparePostgres({ dataDir: dir, port: await freePort() });
  const child: ChildProcess = spawn(prepared.command, prepared.args, {
    cwd: prepared.dataDir,
    env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
    stdio: 'ignore',
    ...(prepared.runAs ? { uid: prepared.runAs.uid, gid: prepared.runAs.gid } : {}),
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  await waitForPostgres(prepared.adminUrl, 60_000, () => !exited);
  process.stderr.write(`no Postgres on 127.0.0.1:5432 and no DATABASE_URL: the tests use an embedded one on port ${prepared.port}\n`);
  return {
    adminUrl: prepared.adminUrl,
    async stop() {
      if (!exited) child.kill('SIGINT');
      await exit;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
