/**
 * Where time and work go on the event path:
 * - `historyProfile`: per device workflow, from its Temporal history: workflow tasks, activities,
 *   local activities (markers), timers, and how long each phase took (queue wait vs run).
 * - `journalProfile`: the HTTP calls to Microsoft (the emulator's journal) per event.
 * - `pgSnapshot` / `pgDelta`: Postgres statements per event from the statistics views.
 * - `summarizeCpuProfile`: a V8 .cpuprofile (node --cpu-prof) by category and by function.
 */
import { readFileSync } from 'node:fs';
import type { Stack } from './stack';

// ---------------------------------------------------------------------------------------------
// Temporal histories

interface HistoryEventLike {
  eventId?: unknown;
  eventTime?: { seconds?: unknown; nanos?: unknown } | null;
  [key: string]: unknown;
}

function eventName(e: HistoryEventLike): string {
  for (const [k, v] of Object.entries(e)) {
    if (k.endsWith('EventAttributes') && v !== null && v !== undefined) {
      const base = k.slice(0, -'EventAttributes'.length);
      return base.charAt(0).toUpperCase() + base.slice(1);
    }
  }
  return 'Unknown';
}

function timeMs(e: HistoryEventLike): number {
  const t = e.eventTime;
  if (!t) return NaN;
  return Number(t.seconds ?? 0) * 1000 + Number(t.nanos ?? 0) / 1e6;
}

export interface HistoryProfile {
  workflows: number;
  /** Mean count per workflow of each history event type. */
  eventsPerWorkflow: Record<string, number>;
  workflowTasks: number;
  activities: Record<string, number>;
  localActivityMarkers: number;
  /** Markers of patched() (once per run) and the TemporalChangeVersion upserts that come with them. */
  patchMarkers: number;
  /** Upserts of our own search attributes (not TemporalChangeVersion). */
  searchAttributeUpserts: number;
  timers: number;
  historyEvents: number;
  /** Mean milliseconds per workflow spent in each phase (summed over the workflow's tasks). */
  phasesMs: Record<string, number>;
  /** Mean ms from the workflow's start to the completion of the workflow task that recorded Successful. */
  startToLastTaskMs: number;
}

export async function historyProfile(stack: Stack, workflowIds: string[]): Promise<HistoryProfile> {
  const counts = new Map<string, number>();
  const activities = new Map<string, number>();
  const phases = new Map<string, number>();
  let spans = 0;
  let n = 0;
  const add = (m: Map<string, number>, k: string, v = 1) => m.set(k, (m.get(k) ?? 0) + v);
  for (const id of workflowIds) {
    const history = await stack.client.workflow.getHandle(id).fetchHistory();
    const events = (history.events ?? []) as unknown as HistoryEventLike[];
    if (events.length === 0) continue;
    n++;
    const byId = new Map<number, { name: string; t: number; e: HistoryEventLike }>();
    for (const e of events) {
      const name = eventName(e);
      byId.set(Number(e.eventId), { name, t: timeMs(e), e });
      add(counts, name);
      const attrs = e[`${name.charAt(0).toLowerCase()}${name.slice(1)}EventAttributes`] as Record<string, unknown> | undefined;
      if (name === 'ActivityTaskScheduled') add(activities, String((attrs?.activityType as { name?: string } | undefined)?.name));
      if (name === 'MarkerRecorded')
        add(counts, (attrs?.markerName as string | undefined) === 'core_patch' ? 'marker:patch' : 'marker:other');
      if (name === 'UpsertWorkflowSearchAttributes') {
        const fields = Object.keys(
          (attrs?.searchAttributes as { indexedFields?: Record<string, unknown> } | undefined)?.indexedFields ?? {},
        );
        add(counts, fields.length === 1 && fields[0] === 'TemporalChangeVersion' ? 'upsert:change-version' : 'upsert:ours');
      }
      const ref = (field: string) => byId.get(Number(attrs?.[field]));
      if (name === 'WorkflowTaskStarted') {
        const s = ref('scheduledEventId');
        if (s) add(phases, 'workflow task: queued', timeMsDiff(byId.get(Number(e.eventId))!.t, s.t));
      }
      if (name === 'WorkflowTaskCompleted') {
        const st = ref('startedEventId');
        if (st) add(phases, 'workflow task: running (incl. local activities)', timeMsDiff(timeMs(e), st.t));
      }
      if (name === 'ActivityTaskStarted') {
        const s = ref('scheduledEventId');
        const type = String(
          (s?.e.activityTaskScheduledEventAttributes as { activityType?: { name?: string } } | undefined)?.activityType?.name,
        );
        if (s) add(phases, `activity ${type}: queued`, timeMsDiff(timeMs(e), s.t));
      }
      if (name === 'ActivityTaskCompleted' || name === 'ActivityTaskFailed') {
        const st = ref('startedEventId');
        const s = ref('scheduledEventId');
        const type = String(
          (s?.e.activityTaskScheduledEventAttributes as { activityType?: { name?: string } } | undefined)?.activityType?.name,
        );
        if (st) add(phases, `activity ${type}: running`, timeMsDiff(timeMs(e), st.t));
      }
      if (name === 'TimerFired') {
        const s = ref('startedEventId');
        if (s) add(phases, 'timer (status poll wait)', timeMsDiff(timeMs(e), s.t));
      }
    }
    const first = timeMs(events[0]!);
    const lastTask = [...events].reverse().find((e) => eventName(e) === 'WorkflowTaskCompleted');
    if (lastTask) spans += timeMs(lastTask) - first;
  }
  const mean = (m: Map<string, number>) =>
    Object.fromEntries([...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v / Math.max(1, n))]));
  const c = mean(counts);
  // Keys with a colon are sub-counts of an event type (marker:patch, upsert:ours), not events.
  const events = Object.fromEntries(Object.entries(c).filter(([k]) => !k.includes(':')));
  return {
    workflows: n,
    eventsPerWorkflow: events,
    workflowTasks: c.WorkflowTaskCompleted ?? 0,
    activities: mean(activities),
    localActivityMarkers: c['marker:other'] ?? 0,
    patchMarkers: c['marker:patch'] ?? 0,
    searchAttributeUpserts: c['upsert:ours'] ?? 0,
    timers: c.TimerStarted ?? 0,
    historyEvents: round(Object.values(events).reduce((a, b) => a + b, 0)),
    phasesMs: mean(phases),
    startToLastTaskMs: round(spans / Math.max(1, n)),
  };
}

function timeMsDiff(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) ? a - b : 0;
}

function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

// ---------------------------------------------------------------------------------------------
// Calls to Microsoft

/** Requests to the emulator since the journal was last cleared, by kind, per event. */
export interface JournalProfile {
  requests: number;
  perEvent: Record<string, number>;
  /** Requests that came on a connection of their own (a TLS handshake each), per event. */
  newConnectionsPerEvent: number;
}

export async function journalProfile(stack: Stack, events: number): Promise<JournalProfile> {
  const entries = await stack.emulator.requests();
  const kinds = new Map<string, number>();
  let newConnections = 0;
  for (const e of entries) {
    if (e.newConnection) newConnections++;
    const p = e.path.split('?')[0]!;
    const kind =
      e.service === 'token'
        ? 'token'
        : /DataUploadMessages/.test(p)
          ? `${e.method} DataUploadMessages`
          : /\/users\(/.test(p)
            ? `${e.method} users(upn)`
            : /\/devices\(/.test(p)
              ? `${e.method} devices(deviceId)`
              : `${e.method} ${p.split('/').slice(0, 3).join('/').replace(/\(.*$/, '')}`;
    kinds.set(`${e.service} ${kind}`, (kinds.get(`${e.service} ${kind}`) ?? 0) + 1);
  }
  return {
    requests: entries.length,
    perEvent: Object.fromEntries([...kinds].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v / Math.max(1, events), 3)])),
    newConnectionsPerEvent: round(newConnections / Math.max(1, events), 3),
  };
}

// ---------------------------------------------------------------------------------------------
// Postgres

export type PgSnapshot = Record<string, number>;

/** Counters of the bench database and its tables (cumulative since the database was created). */
export async function pgSnapshot(stack: Stack): Promise<PgSnapshot> {
  const out: PgSnapshot = {};
  const { rows: dbRows } = (await stack.db.raw(
    'select xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated from pg_stat_database where datname = current_database()',
  )) as { rows: Array<Record<string, string>> };
  for (const [k, v] of Object.entries(dbRows[0] ?? {})) out[`database.${k}`] = Number(v);
  const { rows } = (await stack.db.raw(
    "select relname, seq_scan, coalesce(idx_scan, 0) as idx_scan, n_tup_ins, n_tup_upd, n_tup_hot_upd from pg_stat_user_tables where relname in ('devices', 'report_attempts', 'settings')",
  )) as { rows: Array<Record<string, string>> };
  for (const r of rows) for (const [k, v] of Object.entries(r)) if (k !== 'relname') out[`${r.relname}.${k}`] = Number(v);
  return out;
}

export function pgDelta(before: PgSnapshot, after: PgSnapshot, events: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(after)) {
    const d = (after[k] ?? 0) - (before[k] ?? 0);
    if (d !== 0) out[k] = round(d / Math.max(1, events), 2);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// V8 CPU profiles

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

function categoryOf(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'V8 garbage collector';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'V8/native (program)';
  if (!url) return 'native / builtins';
  // The prebuilt workflow bundle lives under node_modules/.cache (workers/workflow-bundle.ts).
  if (/workflow-bundle-[0-9a-f]+\.js/.test(url)) return 'workflow bundle (VM)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) {
    const pkg = m[1]!;
    if (pkg.startsWith('@temporalio/')) return `${pkg} (SDK)`;
    return pkg;
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[1] ?? url.slice(5)}`;
  if (/workflow|bundle/i.test(url) && !/\/workflows\//.test(url)) return 'workflow bundle (VM)';
  const project = /\/(activities|db|domain|workflows|workers|lib|api|config)\//.exec(url);
  if (project) return `project ${project[1]}/`;
  return url.split('/').slice(-2).join('/');
}

export interface CpuProfileSummary {
  totalMs: number;
  busyMs: number;
  byCategory: Array<{ category: string; ms: number; share: number }>;
  topFunctions: Array<{ fn: string; where: string; ms: number; share: number }>;
}

export function summarizeCpuProfile(file: string): CpuProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: CpuProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const cats = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; us: number }>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    total += us;
    const cat = categoryOf(url, functionName);
    if (cat === 'idle') {
      idle += us;
      continue;
    }
    cats.set(cat, (cats.get(cat) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${url}:${lineNumber + 1}`;
    const f = fns.get(key) ?? {
      fn: functionName || '(anonymous)',
      where: `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/main\//, '')}:${lineNumber + 1}`,
      us: 0,
    };
    f.us += us;
    fns.set(key, f);
  }
  const busy = total - idle;
  return {
    totalMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    byCategory: [...cats]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([category, us]) => ({ category, ms: Math.round(us / 1000), share: round(us / busy, 3) })),
    topFunctions: [...fns]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, 20)
      .map(([, f]) => ({ fn: f.fn, where: f.where, ms: Math.round(f.us / 1000), share: round(f.us / busy, 3) })),
  };
}
