/**
 * How long the API's /metrics takes with a large read model: a scratch database on DATABASE_URL with
 * DEVICES devices of the served tenant (1 % of them In-progress), as many again of other tenants, and
 * ATTEMPTS_PER_DEVICE timeline rows per device (one in a thousand a drift report); then SCRAPES
 * sequential scrapes of the app (api/app.ts) and their median, p95 and maximum. Temporal's answer to the
 * dependency check is stubbed: what is measured is the Postgres side of the tenant facts. Then each
 * query one scrape ran, with its plan's top node and execution time (EXPLAIN ANALYZE).
 *
 *   DATABASE_URL=postgres://… npx tsx bench/metrics-scrape.ts [DEVICES=10000] [ATTEMPTS_PER_DEVICE=10] [SCRAPES=50]
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { createApp } from '../api/app';
import { createApiMetrics } from '../api/metrics';
import { loadConfig } from '../config';
import { createDb, migrateToLatest, pooledQuery } from '../db';
import { createScratchDatabase } from '../db/scratch';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

/** The plan's scans, e.g. "Index Only Scan devices_tenant_status_idx". */
function describe(node: PlanNode): string {
  const scans: string[] = [];
  const walk = (n: PlanNode): void => {
    if (/Scan/.test(n['Node Type'])) scans.push(`${n['Node Type']} ${n['Index Name'] ?? n['Relation Name'] ?? ''}`.trim());
    for (const c of n.Plans ?? []) walk(c);
  };
  walk(node);
  return scans.join(', ') || node['Node Type'];
}

async function main(): Promise<void> {
  const [devices = 10_000, attemptsPerDevice = 10, scrapes = 50] = process.argv.slice(2).map(Number);
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('set DATABASE_URL to a Postgres server where a scratch database may be created');
  const scratch = await createScratchDatabase(adminUrl, 'acc_metrics_bench');
  const db = createDb(scratch.databaseUrl);
  try {
    await migrateToLatest(db);
    const tenantId = randomUUID();
    const seedStart = Date.now();
    // The served tenant's devices, then as many of nine other tenants (which no label may show).
    await db.raw(
      `insert into devices (tenant_id, device_id, compliance_status, last_attempt_at, version)
       select case when i <= ? then ? else 'other-' || (i % 9) end, 'device-' || i,
              case when i % 100 = 0 then 'In-progress' when i % 10 = 0 then 'Failed' else 'Successful' end,
              now() - (i || ' seconds')::interval, 1
       from generate_series(1, ?) as i`,
      [devices, tenantId, devices * 2],
    );
    await db.raw(
      `insert into report_attempts (tenant_id, device_id, attempt_key, at, trigger, reported, outcome)
       select d.tenant_id, d.device_id, 'a-' || n, now() - (n || ' hours')::interval,
              case when (hashtext(d.device_id) + n) % 1000 = 0 then 'drift' else 'weekly' end,
              '{"complianceStatus":"Successful","managementState":"managed"}', 'Successful'
       from devices d, generate_series(1, ?) as n`,
      [attemptsPerDevice],
    );
    await db.raw(`insert into settings (tenant_id, last_heartbeat_at, last_heartbeat_result) values (?, now(), '{"ok":true}')`, [tenantId]);
    await db.raw('analyze');
    const seedMs = Date.now() - seedStart;

    const temporal = {
      withDeadline: <R>(_d: number, fn: () => Promise<R>) => fn(),
      workflowService: { getSystemInfo: async () => ({}), describeTaskQueue: async () => ({ stats: {} }) },
    };
    const app = createApp({
      config: loadConfig({ MDM_API_KEY: 'x'.repeat(16), ADMIN_API_KEY: 'y'.repeat(16) }),
      tenantId,
      db,
      temporal: temporal as unknown as Client,
      logger: pino({ level: 'warn' }),
      fleet: { start: async () => ({ operationId: 'unused' }) },
      schedules: { setWeeklyReportPaused: async () => undefined, setReconciliation: async () => undefined },
    });
    // Interleaved with the same registry minus the tenant facts (the HTTP and Node metrics alone), so
    // the machine's noise hits both alike.
    const baseline = createApiMetrics();
    const times: number[] = [];
    const baselineTimes: number[] = [];
    let text = '';
    for (let i = 0; i < scrapes + 5; i++) {
      let start = process.hrtime.bigint();
      const res = await app.request('/metrics');
      text = await res.text();
      if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      start = process.hrtime.bigint();
      await baseline.registry.metrics();
      const baselineMs = Number(process.hrtime.bigint() - start) / 1e6;
      if (i < 5) continue; // warm-up
      times.push(ms);
      baselineTimes.push(baselineMs);
    }
    // The statements of one scrape, and what Postgres does for each.
    const statements: Array<{ sql: string; bindings: readonly unknown[] }> = [];
    const onQuery = (q: { sql: string; bindings?: readonly unknown[] }) => statements.push({ sql: q.sql, bindings: q.bindings ?? [] });
    db.on('query', onQuery);
    await (await app.request('/metrics')).text();
    db.off('query', onQuery);
    const plans: string[] = [];
    for (const q of statements) {
      // The event shows the statement as sent: pg's $1 placeholders.
      const rows = await pooledQuery(db, `explain (analyze, format json) ${q.sql}`, [...q.bindings]);
      const [plan] = rows[0]!['QUERY PLAN'] as Array<{ Plan: PlanNode; 'Execution Time': number }>;
      plans.push(`${plan!['Execution Time'].toFixed(2)} ms  ${describe(plan!.Plan)}  ← ${q.sql.replace(/\s+/g, ' ').slice(0, 110)}`);
    }
    const summary = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
      return { median: at(0.5), p95: at(0.95), max: at(1) };
    };
    const tenantLines = text.split('\n').filter((l) => l.startsWith('acc_'));
    process.stdout.write(
      `${JSON.stringify({
        devicesOfTenant: devices,
        devicesTotal: devices * 2,
        reportAttempts: devices * 2 * attemptsPerDevice,
        seedSeconds: Math.round(seedMs / 100) / 10,
        scrapes,
        scrapeMs: summary(times),
        withoutTenantFactsMs: summary(baselineTimes),
      })}\n${tenantLines.join('\n')}\n\nqueries of one scrape:\n${plans.join('\n')}\n`,
    );
  } finally {
    await db.destroy();
    await scratch.drop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
