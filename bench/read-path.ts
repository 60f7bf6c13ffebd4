/**
 * The read path on its own, quickly: `GET /v1/devices/{id}` of the connector's API (api/main.ts,
 * configured as `npm start` configures it, request log into a file) beside its floor (a bare Hono
 * route with the same query through `pg`, bench/floor/read-server.ts), on a fresh Postgres database
 * seeded with reported devices and a Temporal dev server the API connects to. The rounds alternate
 * floor and ours; the load is `wrk` (installed from Debian when missing), else the Node load
 * generator. Every figure comes with the load generator's own CPU and the machine's load average.
 *
 *   npx tsx bench/read-path.ts                       # 2,000 devices, 3 rounds of 8 s each way
 *   npx tsx bench/read-path.ts --rounds 1 --seconds 2 --devices 50     # a smoke run
 *   npx tsx bench/read-path.ts --compare ../other-checkout              # that checkout's API as a third side
 *   npx tsx bench/read-path.ts --profile /tmp/api-prof                   # ours under node --cpu-prof
 *
 * `--compare DIR` runs DIR/api/main.ts beside ours, round by round, to measure a change against
 * the code before it under the same load of the machine.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config';
import { createDb, migrateToLatest } from '../db';
import { createScratchDatabase } from '../db/scratch';
import { findTemporalCli, INSTALL_HINT } from '../lib/temporal-cli';
import { freePort } from '../lib/ports';
import { UsageError, numberArg, parseArgs, stringArg } from '../scripts/simulator/args';
import { portLine, startChild, type Child } from './lib/child';
import { loadAverage } from './lib/machine';
import { procSample } from './lib/proc';
import { connectorEnv, startTemporal, waitForApi } from './lib/stack';
import { readRounds, type ReadSide } from './scenarios/read-path';
import { seedReportedDevices } from './lib/seed';

function log(line: string): void {
  process.stdout.write(`[read-path ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

async function main(): Promise<void> {
  const args = parseArgs(
    process.argv.slice(2),
    ['devices', 'seconds', 'rounds', 'concurrency', 'compare', 'out', 'profile', 'layers'],
    ['node-load', 'help'],
  );
  if (args.help) {
    process.stdout.write(
      'usage: npx tsx bench/read-path.ts [--devices 2000] [--seconds 8] [--rounds 3] [--concurrency 32] [--compare DIR] [--node-load] [--out FILE] [--profile DIR]\n',
    );
    return;
  }
  const devices = numberArg(args, 'devices', 2_000, { min: 1, max: 1_000_000, integer: true });
  const seconds = numberArg(args, 'seconds', 8, { min: 1, max: 600 });
  const rounds = numberArg(args, 'rounds', 3, { min: 1, max: 50, integer: true });
  const concurrency = numberArg(args, 'concurrency', 32, { min: 1, max: 1_000, integer: true });
  const compare = stringArg(args, 'compare');
  if (compare !== undefined && !existsSync(path.join(path.resolve(compare), 'api', 'main.ts'))) {
    throw new UsageError(`--compare ${compare}: no api/main.ts there`);
  }
  const config = loadConfig();
  const temporalCli = findTemporalCli(config.temporal.cliPath);
  if (!temporalCli) throw new Error(`cannot run the benchmark: ${INSTALL_HINT}`);

  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'acc-read-'));
  const cleanups: Array<() => Promise<void>> = [async () => rmSync(tmpDir, { recursive: true, force: true })];
  try {
    const temporal = await startTemporal({ binary: temporalCli, dbFilename: path.join(tmpDir, 'temporal.db'), synchronous: 'OFF' });
    cleanups.push(() => temporal.stop());
    const scratch = await createScratchDatabase(config.databaseUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres', 'acc_read');
    cleanups.push(() => scratch.drop());
    const db = createDb(scratch.databaseUrl, { max: 2 });
    cleanups.push(() => db.destroy());
    await migrateToLatest(db);
    const tenantId = randomUUID();
    const ids = await seedReportedDevices(db, tenantId, devices);
    log(`${devices} reported devices in ${scratch.name}; Temporal at ${temporal.address}`);

    const keys = { mdm: randomBytes(32).toString('base64url'), admin: randomBytes(32).toString('base64url') };
    const env = (port: number): NodeJS.ProcessEnv => ({
      ...connectorEnv({
        databaseUrl: scratch.databaseUrl,
        temporalAddress: temporal.address,
        taskQueue: 'read-path-bench',
        tenant: { tenantId, clientId: randomUUID(), clientSecret: 'unused-by-the-read-path' },
        emulatorUrl: 'https://127.0.0.1:9',
        caPemPath: '',
      }),
      NODE_EXTRA_CA_CERTS: '',
      MDM_API_KEY: keys.mdm,
      ADMIN_API_KEY: keys.admin,
      API_PORT: String(port),
      DATA_DIR: tmpDir,
    });
    const profileDir = stringArg(args, 'profile');
    const startApi = async (name: string, script: string, nodeFlags: string[] = []): Promise<{ child: Child; url: string }> => {
      const port = await freePort();
      const child = startChild({ name, script, nodeFlags, env: env(port), stdoutFile: path.join(tmpDir, `${name}.log`) });
      cleanups.push(() => child.stop());
      const url = `http://127.0.0.1:${port}`;
      await waitForApi(child, url);
      return { child, url };
    };
    const ours = await startApi('api', 'api/main.ts', profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : []);
    const before = compare !== undefined ? await startApi('api-before', path.join(path.resolve(compare), 'api', 'main.ts')) : null;
    const floor = startChild({
      name: 'read-floor',
      script: 'bench/floor/read-server.ts',
      args: [scratch.databaseUrl, tenantId],
      nodeFlags: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir, 'floor')}`] : [],
      env: { ...process.env },
    });
    cleanups.push(() => floor.stop());
    const { port: floorPort } = await floor.waitForLine(portLine, 30_000);

    // --layers knex;openapi,auth: the floor with those layers of our pipeline (bench/floor/read-layers.ts), one side each.
    const layerSides: ReadSide[] = [];
    for (const spec of (stringArg(args, 'layers') ?? '').split(';').filter(Boolean)) {
      const child = startChild({
        name: `layers-${spec}`,
        script: 'bench/floor/read-layers.ts',
        args: [scratch.databaseUrl, tenantId, spec],
        env: { ...process.env },
      });
      cleanups.push(() => child.stop());
      const { port } = await child.waitForLine(portLine, 30_000);
      layerSides.push({
        name: `floor+${spec}`,
        url: `http://127.0.0.1:${port}`,
        pid: child.pid,
        headers: { Authorization: `Bearer ${'k'.repeat(43)}` },
      });
    }
    const auth = { Authorization: `Bearer ${keys.admin}` };
    const sides: ReadSide[] = [
      { name: 'floor', url: `http://127.0.0.1:${floorPort}`, pid: floor.pid, headers: {} },
      { name: 'ours', url: ours.url, pid: ours.child.pid, headers: auth },
      ...(before ? [{ name: 'before', url: before.url, pid: before.child.pid, headers: auth }] : []),
      ...layerSides,
    ];
    log(`load average at start ${loadAverage().join(' / ')}`);
    const result = await readRounds({
      ids,
      sides,
      concurrency,
      durationMs: seconds * 1000,
      rounds,
      nodeLoad: args['node-load'] === true,
      log,
    });
    const summary = {
      command: `npx tsx bench/read-path.ts ${process.argv.slice(2).join(' ')}`.trim(),
      at: new Date().toISOString(),
      devices,
      apiRssBytes: procSample(ours.child.pid)?.rss ?? NaN,
      ...result,
    };
    const out = stringArg(args, 'out');
    if (out !== undefined) {
      mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
      writeFileSync(path.resolve(out), `${JSON.stringify(summary, null, 2)}\n`);
      log(`results: ${out}`);
    }
    process.stdout.write(`${JSON.stringify({ ratios: result.ratios, medians: result.medians }, null, 2)}\n`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`cleanup: ${(err as Error).message}`));
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`read-path: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`read-path failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
