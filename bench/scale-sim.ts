/**
 * Simulation, not a test: the weekly sweep's paging and pacing at fleet scale, in Postgres, without
 * the device workflows. Seeds `--devices` rows for one tenant (plus `--other-tenants` tenants of
 * `--other-devices` rows each, so the tenant key has to select), then runs the real sweep activities
 * (beginSweep, signalPage, in @temporalio/testing's MockActivityEnvironment) with a Temporal client
 * stub that only counts its signals:
 *
 * 1. unpaced, over the whole tenant: Postgres time per device (keyset page + checkpoint per batch),
 *    the count at the start, and how the page query's cost moves from the first rows to the last;
 * 2. paced at SWEEP_DEVICES_PER_SECOND for `--paced-seconds`: the signals per second it reached and
 *    the most in any one second (the budget must hold);
 * 3. the sizes: devices table and each index, bytes per device; EXPLAIN of the page query.
 *
 *   npx tsx bench/scale-sim.ts --devices 1000000          # about 3–6 minutes on 2 cores
 *   npx tsx bench/scale-sim.ts --devices 2000 --paced-seconds 2 --other-tenants 1 --other-devices 100   # smoke
 *
 * Writes bench/results/scale-sim-<date>.json (or into --results-dir).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Client } from '@temporalio/client';
import { createFleetActivities, type SignalPageResult } from '../activities/fleet-activities';
import { defaultSweepDevicesPerSecond, loadConfig } from '../config';
import { createDb, migrateToLatest, type Db } from '../db';
import { createScratchDatabase } from '../db/scratch';
import { UsageError, numberArg, parseArgs, stringArg } from '../scripts/simulator/args';
import { summarize } from '../scripts/simulator/stats';
import { DEFAULT_SWEEP_OPTIONS } from '../workflows/fleet-messages';
import { PROJECT_ROOT } from './lib/child';
import { loadAverage, machineInfo } from './lib/machine';
import { seedReportedDevices } from './lib/seed';

const log = (line: string) => process.stdout.write(`[scale-sim ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

/** A Temporal client that only counts signals (and when they were sent): no device workflows. */
function countingClient(): { client: Client; signalTimes: number[] } {
  const signalTimes: number[] = [];
  const client = {
    options: { namespace: 'default', identity: 'scale-sim', loadedDataConverter: { payloadConverter: { toPayload: () => ({}) } } },
    workflowService: {
      signalWorkflowExecution: async () => {
        signalTimes.push(Date.now());
        return {};
      },
    },
  } as unknown as Client;
  return { client, signalTimes };
}

/** Wraps the database so every query's wall time is summed (pg time as the activity sees it). */
function timedDb(db: Db): { db: Db; ms: () => number; queries: () => number } {
  let ms = 0;
  let queries = 0;
  const started = new Map<string, number>();
  db.on('query', (q: { __knexQueryUid: string }) => started.set(q.__knexQueryUid, performance.now()));
  db.on('query-response', (_r: unknown, q: { __knexQueryUid: string }) => {
    const t = started.get(q.__knexQueryUid);
    if (t !== undefined) {
      ms += performance.now() - t;
      queries++;
      started.delete(q.__knexQueryUid);
    }
  });
  return { db, ms: () => ms, queries: () => queries };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), ['devices', 'other-tenants', 'other-devices', 'paced-seconds', 'results-dir'], ['help']);
  if (args.help) {
    process.stdout.write(
      'usage: npx tsx bench/scale-sim.ts [--devices 1000000] [--other-tenants 3] [--other-devices 100000] [--paced-seconds 20] [--results-dir DIR]\n',
    );
    return;
  }
  const devices = numberArg(args, 'devices', 1_000_000, { min: 100, max: 20_000_000, integer: true });
  const otherTenants = numberArg(args, 'other-tenants', 3, { min: 0, max: 100, integer: true });
  const otherDevices = numberArg(args, 'other-devices', 100_000, { min: 1, max: 10_000_000, integer: true });
  const pacedSeconds = numberArg(args, 'paced-seconds', 20, { min: 1, max: 3_600 });
  const config = loadConfig();
  const devicesPerSecond = defaultSweepDevicesPerSecond(config.azureMaxCallsPerSecond);
  const loadAtStart = loadAverage();

  const scratch = await createScratchDatabase(config.databaseUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres', 'acc_scale');
  const raw = createDb(scratch.databaseUrl, { max: 4 });
  try {
    await migrateToLatest(raw);
    const tenantId = randomUUID();
    const seedStart = performance.now();
    await seedReportedDevices(raw, tenantId, devices);
    for (let t = 0; t < otherTenants; t++) await seedReportedDevices(raw, randomUUID(), otherDevices);
    const seedSeconds = (performance.now() - seedStart) / 1000;
    log(`seeded ${devices} devices (+ ${otherTenants} × ${otherDevices} of other tenants) in ${seedSeconds.toFixed(0)} s`);

    // ---- 1. The whole tenant, unpaced
    const timed = timedDb(raw);
    const { client, signalTimes } = countingClient();
    const activities = createFleetActivities({ db: timed.db, temporal: client, azureClientFor: () => ({}) as never });
    const env = new MockActivityEnvironment();
    const operationId = randomUUID();
    const t0 = performance.now();
    const { devicesTotal } = (await env.run(activities.beginSweep, {
      operationId,
      tenantId,
      kind: 'weekly' as const,
      filter: null,
      startedAt: new Date().toISOString(),
    })) as { devicesTotal: number };
    const beginMs = performance.now() - t0;
    let cp = { after: null as string | null, signalled: 0, skipped: 0 };
    const pageMs: number[] = [];
    const pageDbMs: number[] = [];
    const walkStart = performance.now();
    const dbAtWalkStart = timed.ms();
    const queriesAtWalkStart = timed.queries();
    for (;;) {
      const p0 = performance.now();
      const db0 = timed.ms();
      const r = (await env.run(activities.signalPage, {
        operationId,
        tenantId,
        trigger: 'weekly' as const,
        filter: null,
        ...cp,
        pageSize: DEFAULT_SWEEP_OPTIONS.pageSize,
        batchSize: DEFAULT_SWEEP_OPTIONS.batchSize,
        devicesPerSecond: 0,
      })) as SignalPageResult;
      pageMs.push(performance.now() - p0);
      pageDbMs.push(timed.ms() - db0);
      cp = { after: r.after, signalled: r.signalled, skipped: r.skipped };
      if (r.done) break;
      if (pageMs.length % 100 === 0) log(`  ${cp.signalled} devices walked`);
    }
    const walkSeconds = (performance.now() - walkStart) / 1000;
    const walkDbMs = timed.ms() - dbAtWalkStart;
    const walkQueries = timed.queries() - queriesAtWalkStart;
    if (cp.signalled !== devices || signalTimes.length !== devices) throw new Error(`walked ${cp.signalled} of ${devices} devices`);
    const tenth = Math.max(1, Math.floor(pageDbMs.length / 10));
    log(
      `unpaced walk: ${devices} devices in ${walkSeconds.toFixed(1)} s (${round(devices / walkSeconds, 0)}/s), Postgres ${round((walkDbMs * 1000) / devices)} µs per device; count at start ${beginMs.toFixed(0)} ms`,
    );

    // ---- 2. Paced at the budget's rate, for a while
    const paced = countingClient();
    const pacedActivities = createFleetActivities({ db: raw, temporal: paced.client, azureClientFor: () => ({}) as never });
    const pacedOp = randomUUID();
    await env.run(pacedActivities.beginSweep, {
      operationId: pacedOp,
      tenantId,
      kind: 'weekly' as const,
      filter: null,
      startedAt: new Date().toISOString(),
    });
    const pacedCount = Math.round(pacedSeconds * devicesPerSecond);
    const p0 = Date.now();
    await env.run(pacedActivities.signalPage, {
      operationId: pacedOp,
      tenantId,
      trigger: 'weekly' as const,
      filter: null,
      after: null,
      signalled: 0,
      skipped: 0,
      pageSize: pacedCount,
      batchSize: DEFAULT_SWEEP_OPTIONS.batchSize,
      devicesPerSecond,
    });
    const pacedWall = (Date.now() - p0) / 1000;
    const perSecond = new Map<number, number>();
    for (const t of paced.signalTimes) perSecond.set(Math.floor((t - p0) / 1000), (perSecond.get(Math.floor((t - p0) / 1000)) ?? 0) + 1);
    // A second's count can hold two batches' worth at a boundary; the 20 s window is what Microsoft counts.
    const windows = [...perSecond.keys()].map((s) =>
      Array.from({ length: 20 }, (_, i) => perSecond.get(s + i) ?? 0).reduce((a, b) => a + b, 0),
    );
    log(`paced: ${pacedCount} devices in ${pacedWall.toFixed(1)} s = ${round(pacedCount / pacedWall)}/s (target ${devicesPerSecond}/s)`);

    // ---- 3. Sizes and plans
    const size = async (rel: string) =>
      Number(((await raw.raw('select pg_total_relation_size(?) as n', [rel])) as { rows: Array<{ n: string }> }).rows[0]!.n);
    const { rows: indexRows } = (await raw.raw(
      `select indexrelname as name, pg_relation_size(indexrelid) as bytes from pg_stat_user_indexes where relname = 'devices' order by 1`,
    )) as { rows: Array<{ name: string; bytes: string }> };
    const allRows = devices + otherTenants * otherDevices;
    const tableBytes = Number(
      (
        (await raw.raw(
          `select pg_relation_size('devices') + coalesce(pg_relation_size(reltoastrelid), 0) as n from pg_class where relname = 'devices'`,
        )) as { rows: Array<{ n: string }> }
      ).rows[0]!.n,
    );
    const middle = `dev-${String(Math.floor(devices / 2)).padStart(String(devices - 1).length, '0')}`;
    const { rows: plan } = (await raw.raw(
      `explain (analyze, buffers, format text) select device_id from devices where tenant_id = ? and retired_at is null and device_id > ? order by device_id asc limit 50`,
      [tenantId, middle],
    )) as { rows: Array<{ 'QUERY PLAN': string }> };
    const { rows: countPlan } = (await raw.raw(
      `explain (analyze, format text) select count(*) from devices where tenant_id = ? and retired_at is null`,
      [tenantId],
    )) as {
      rows: Array<{ 'QUERY PLAN': string }>;
    };

    const results = {
      command: `npx tsx bench/scale-sim.ts ${process.argv.slice(2).join(' ')}`.trim(),
      date: new Date().toISOString(),
      machine: machineInfo(),
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadAverage(),
      devices,
      otherTenants,
      otherDevices,
      seedSeconds: round(seedSeconds, 1),
      sweepOptions: { ...DEFAULT_SWEEP_OPTIONS, devicesPerSecond },
      unpaced: {
        devicesTotal,
        countAtStartMs: round(beginMs, 1),
        wallSeconds: round(walkSeconds, 1),
        devicesPerSecond: round(devices / walkSeconds, 0),
        postgresMs: round(walkDbMs, 0),
        postgresQueries: walkQueries,
        postgresUsPerDevice: round((walkDbMs * 1000) / devices, 1),
        pageMs: summarize(pageMs),
        pageDbMsFirstTenth: summarize(pageDbMs.slice(0, tenth)),
        pageDbMsLastTenth: summarize(pageDbMs.slice(-tenth)),
      },
      paced: {
        devices: pacedCount,
        targetPerSecond: devicesPerSecond,
        wallSeconds: round(pacedWall, 2),
        perSecond: round(pacedCount / pacedWall),
        mostInOneSecond: Math.max(...perSecond.values()),
        mostIn20Seconds: Math.max(...windows),
      },
      sizes: {
        rows: allRows,
        devicesTotalBytes: await size('devices'),
        devicesHeapAndToastBytes: tableBytes,
        bytesPerDeviceTotal: round((await size('devices')) / allRows, 0),
        indexes: Object.fromEntries(
          indexRows.map((r) => [r.name, { bytes: Number(r.bytes), perDevice: round(Number(r.bytes) / allRows, 1) }]),
        ),
      },
      plans: { page: plan.map((r) => r['QUERY PLAN']), count: countPlan.map((r) => r['QUERY PLAN']) },
    };
    const dir =
      typeof args['results-dir'] === 'string' ? path.resolve(stringArg(args, 'results-dir')!) : path.join(PROJECT_ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `scale-sim-${results.date.slice(0, 19).replace(/:/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    log(`results: ${path.relative(process.cwd(), file)}`);
    process.stdout.write(
      `${JSON.stringify({ unpaced: results.unpaced, paced: results.paced, sizes: results.sizes }, null, 2)}\n${plan.map((r) => r['QUERY PLAN']).join('\n')}\n`,
    );
  } finally {
    await raw.destroy();
    await scratch.drop();
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`scale-sim: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`scale-sim failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
