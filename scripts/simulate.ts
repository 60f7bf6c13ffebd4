/**
 * `npm run simulate`: an MDM fleet driving the public HTTP API (docs/http-contract.md).
 *
 *   npm run simulate -- --devices 500 --rate 50 --duration 120
 *
 * Every device registers (mostly `Success`; some with another client status code and no Azure device
 * id), then compliance and inventory change, a policy change now and then flips many devices at once
 * (a burst on top of the steady rate), and a few devices retire. One line per second (sent, accepted,
 * rejected, errors), then a summary. Against `npm start` it needs nothing else: the API is
 * http://127.0.0.1:API_PORT (8080) and the MDM key comes from MDM_API_KEY or DATA_DIR/keys.json.
 * Bounded: it stops after --duration seconds (or --max-events), waits at most 30 s for answers.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../lib/project-root';
import { loadConfigOrExit } from '../config';
import { MAX_BATCH_EVENTS } from '../domain/constants';
import type { BatchEventItem } from '../domain/events';
import { UsageError, numberArg, parseArgs, stringArg } from './simulator/args';
import { Fleet } from './simulator/fleet';
import { createHttpClient } from './simulator/http';
import { createSender, type SendResult } from './simulator/sender';
import { ms, summarize } from './simulator/stats';

const USAGE = `usage: npm run simulate -- [options]
  --devices N          fleet size (default 200)
  --rate R             steady events per second (default 20)
  --duration S         seconds to run (default 60)
  --api URL            API base URL (default http://127.0.0.1:$API_PORT, i.e. 8080)
  --key KEY            MDM API key (default MDM_API_KEY, else mdmApiKey of $DATA_DIR/keys.json)
  --admin-key KEY      admin key, to sample device statuses at the end (default from the same places)
  --batch N|auto       events per POST /v1/events; 1 = one event per POST /v1/devices/{id}/events;
                       auto (default): single events up to 20/s, else batches of rate/10
  --concurrency N      requests in flight at most (default 16)
  --burst-every S      a policy change every S seconds (default 20; 0 = none)
  --burst-size N       devices a policy change flips (default 30% of the fleet, at most 1000)
  --retire-share F     share of the fleet that retires during the run (default 0.02)
  --prefix P           device id prefix (default sim-<time>); reuse it to continue a fleet
  --seed N             random seed (default: from the time)
  --max-events N       stop after this many events (default rate × duration × 2 + bursts)
  --sample N           devices whose status is read back at the end with the admin key (default 50)
  --settle S           seconds to wait before reading them back (default 5)
  --quiet              no per-second lines`;

function keysFromFile(dataDir: string): { mdm?: string; admin?: string } {
  const file = path.join(path.resolve(PROJECT_ROOT, dataDir), 'keys.json');
  if (!existsSync(file)) return {};
  try {
    const k = JSON.parse(readFileSync(file, 'utf8')) as { mdmApiKey?: unknown; adminApiKey?: unknown };
    return {
      ...(typeof k.mdmApiKey === 'string' ? { mdm: k.mdmApiKey } : {}),
      ...(typeof k.adminApiKey === 'string' ? { admin: k.adminApiKey } : {}),
    };
  } catch {
    return {};
  }
}

interface Counters {
  sent: number;
  accepted: number;
  rejected: number;
  errors: number;
}

async function main(): Promise<void> {
  const args = parseArgs(
    process.argv.slice(2),
    [
      'devices',
      'rate',
      'duration',
      'api',
      'key',
      'admin-key',
      'batch',
      'concurrency',
      'burst-every',
      'burst-size',
      'retire-share',
      'prefix',
      'seed',
      'max-events',
      'sample',
      'settle',
    ],
    ['quiet', 'help'],
  );
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = loadConfigOrExit();
  const devices = numberArg(args, 'devices', 200, { min: 1, max: 1_000_000, integer: true });
  const rate = numberArg(args, 'rate', 20, { min: 0.1, max: 100_000 });
  const duration = numberArg(args, 'duration', 60, { min: 1, max: 86_400 });
  const concurrency = numberArg(args, 'concurrency', 16, { min: 1, max: 1024, integer: true });
  const burstEvery = numberArg(args, 'burst-every', 20, { min: 0 });
  const burstSize = numberArg(args, 'burst-size', Math.min(MAX_BATCH_EVENTS, Math.max(1, Math.round(devices * 0.3))), {
    min: 1,
    integer: true,
  });
  const retireShare = numberArg(args, 'retire-share', 0.02, { min: 0, max: 1 });
  const seed = numberArg(args, 'seed', Date.now() % 2_147_483_647, { integer: true });
  const sampleSize = numberArg(args, 'sample', 50, { min: 0, integer: true });
  const settle = numberArg(args, 'settle', 5, { min: 0, max: 600 });
  const batchArg = stringArg(args, 'batch') ?? 'auto';
  const batchSize =
    batchArg === 'auto'
      ? rate <= 20
        ? 1
        : Math.min(MAX_BATCH_EVENTS, Math.ceil(rate / 10))
      : numberArg(args, 'batch', 1, { min: 1, max: MAX_BATCH_EVENTS, integer: true });
  const bursts = burstEvery > 0 ? Math.floor(duration / burstEvery) : 0;
  const maxEvents = numberArg(args, 'max-events', Math.ceil(rate * duration * 2) + bursts * burstSize, { min: 1, integer: true });
  const prefix = stringArg(args, 'prefix') ?? `sim-${Date.now().toString(36)}`;
  if (!/^[A-Za-z0-9._:-]{1,100}$/.test(prefix)) throw new UsageError('--prefix may contain only A-Z a-z 0-9 . _ : - (at most 100)');

  const fromFile = keysFromFile(config.dataDir);
  const key = stringArg(args, 'key') ?? config.keys.mdm ?? fromFile.mdm;
  const adminKey = stringArg(args, 'admin-key') ?? config.keys.admin ?? fromFile.admin;
  if (!key)
    throw new UsageError(
      `no MDM key: pass --key, set MDM_API_KEY, or run npm start once (it writes ${path.join(config.dataDir, 'keys.json')})`,
    );
  const apiUrl = (stringArg(args, 'api') ?? `http://127.0.0.1:${config.apiPort}`).replace(/\/+$/, '');

  const http = createHttpClient(apiUrl, { maxSockets: concurrency });
  try {
    const health = await http.request('GET', '/healthz', { timeoutMs: 5_000 });
    if (health.status !== 200) throw new Error(`GET /healthz answered ${health.status}`);
  } catch (err) {
    http.close();
    throw new UsageError(`the API at ${apiUrl} does not answer (${(err as Error).message}): is npm start running? (or pass --api)`);
  }

  const sender = createSender(http, key);
  const fleet = new Fleet({ devices, prefix, seed, retireShare });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(
    `simulating ${devices} devices (${prefix}-*) against ${apiUrl}: ${rate}/s for ${duration} s, ` +
      `${batchSize === 1 ? 'one event per request' : `batches of ≤${batchSize}`}, ` +
      `${bursts > 0 ? `a policy change of ${Math.min(burstSize, devices)} devices every ${burstEvery} s` : 'no policy changes'}, seed ${seed}`,
  );

  const total: Counters = { sent: 0, accepted: 0, rejected: 0, errors: 0 };
  let second: Counters = { sent: 0, accepted: 0, rejected: 0, errors: 0 };
  const byType = new Map<string, number>();
  const reasons = new Map<string, number>();
  const latencies: number[] = [];
  let secondLatencies: number[] = [];
  let inFlight = 0;
  let steadyEmitted = 0;
  let burstCount = 0;
  const burstQueue: BatchEventItem[] = [];
  const settled = new Set<Promise<void>>();

  const record = (r: SendResult): void => {
    if (Number.isFinite(r.ms)) {
      latencies.push(r.ms);
      secondLatencies.push(r.ms);
    }
    for (const o of r.outcomes) {
      const bucket = o.status === 'accepted' ? 'accepted' : o.status === 'rejected' ? 'rejected' : 'errors';
      total[bucket]++;
      second[bucket]++;
      if (o.status !== 'accepted') reasons.set(`${o.status}: ${o.reason}`, (reasons.get(`${o.status}: ${o.reason}`) ?? 0) + 1);
    }
  };

  const dispatch = (items: BatchEventItem[]): void => {
    total.sent += items.length;
    second.sent += items.length;
    for (const i of items) byType.set(i.type, (byType.get(i.type) ?? 0) + 1);
    inFlight++;
    const p = sender
      .send(items, batchSize > 1)
      .then(record)
      .finally(() => {
        inFlight--;
        settled.delete(p);
      });
    settled.add(p);
  };

  const started = performance.now();
  let nextBurstAt = burstEvery > 0 ? burstEvery * 1000 : Infinity;
  let lastLine = 0;
  let behind = 0;

  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - started;
      const now = Date.now();
      if (elapsed >= duration * 1000 || total.sent >= maxEvents) {
        clearInterval(tick);
        resolve();
        return;
      }
      if (elapsed >= nextBurstAt) {
        nextBurstAt += burstEvery * 1000;
        const { actions, events } = fleet.policyChange(burstSize, now);
        if (events.length > 0) {
          burstCount++;
          burstQueue.push(...events);
          if (!args.quiet) say(`  policy change #${burstCount}: ${events.length} devices now have [${actions.join(', ')}]`);
        }
      }
      // Bursts go out as fast as the API takes them, in batches (an MDM pushing a policy change).
      while (burstQueue.length > 0 && inFlight < concurrency && total.sent < maxEvents) {
        dispatch(burstQueue.splice(0, Math.min(MAX_BATCH_EVENTS, Math.max(batchSize, 100), maxEvents - total.sent)));
      }
      // The steady stream: as many events as are due by now, batchSize at a time.
      let due = Math.floor((rate * elapsed) / 1000) - steadyEmitted;
      while (due > 0 && inFlight < concurrency && total.sent < maxEvents) {
        const n = Math.min(due, batchSize, maxEvents - total.sent);
        const items: BatchEventItem[] = [];
        for (let i = 0; i < n; i++) {
          const e = fleet.next(now);
          if (!e) break;
          items.push(e);
        }
        steadyEmitted += n;
        due -= n;
        if (items.length > 0) dispatch(items);
      }
      behind = Math.max(0, due);
      if (elapsed - lastLine >= 1000) {
        lastLine += 1000;
        if (!args.quiet) {
          const s = summarize(secondLatencies);
          say(
            `[${String(Math.round(lastLine / 1000)).padStart(4)}s] sent ${String(second.sent).padStart(5)}  accepted ${String(second.accepted).padStart(5)}  ` +
              `rejected ${String(second.rejected).padStart(4)}  errors ${String(second.errors).padStart(4)}  | total ${total.sent}  in-flight ${inFlight}` +
              `${behind > 0 ? `  behind ${behind}` : ''}  request p50 ${ms(s.p50)} ms p99 ${ms(s.p99)} ms`,
          );
        }
        second = { sent: 0, accepted: 0, rejected: 0, errors: 0 };
        secondLatencies = [];
      }
    }, 20);
  });

  const sendingMs = performance.now() - started;
  // Bounded drain: every request has its own 30 s timeout; this is the backstop.
  await Promise.race([Promise.allSettled([...settled]), new Promise((r) => setTimeout(r, 35_000))]);
  const lat = summarize(latencies);

  say('');
  say(`summary (${(sendingMs / 1000).toFixed(1)} s, ${devices} devices ${prefix}-*, seed ${seed})`);
  say(
    `  events sent      ${total.sent}  (${(total.sent / (sendingMs / 1000)).toFixed(1)}/s; ${[...byType].map(([t, n]) => `${t} ${n}`).join(', ')})`,
  );
  say(`  accepted         ${total.accepted}`);
  say(`  rejected         ${total.rejected}`);
  say(`  errors           ${total.errors}${inFlight > 0 ? `  (${inFlight} requests still unanswered)` : ''}`);
  say(`  policy changes   ${burstCount}; retired devices ${fleet.retiredCount}`);
  say(
    `  request latency  p50 ${ms(lat.p50)} ms, p95 ${ms(lat.p95)} ms, p99 ${ms(lat.p99)} ms, max ${ms(lat.max)} ms (${lat.count} requests)`,
  );
  if (behind > 0)
    say(`  behind schedule  ${behind} events at the end: the API did not keep up with ${rate}/s at --concurrency ${concurrency}`);
  for (const [reason, n] of [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 8)) say(`    ${String(n).padStart(6)}  ${reason}`);

  if (adminKey && sampleSize > 0) {
    if (settle > 0) {
      say(`  (waiting ${settle} s for the reports in flight before sampling statuses)`);
      await new Promise((r) => setTimeout(r, settle * 1000));
    }
    const ids = fleet.deviceIds();
    const step = Math.max(1, Math.floor(ids.length / sampleSize));
    const statuses = new Map<string, number>();
    for (let i = 0; i < ids.length && i / step < sampleSize; i += step) {
      try {
        const r = await http.request('GET', `/v1/devices/${encodeURIComponent(ids[i]!)}`, {
          headers: { Authorization: `Bearer ${adminKey}` },
          timeoutMs: 5_000,
        });
        const status =
          r.status === 200
            ? String((JSON.parse(r.text) as { azureDeviceComplianceStatus: unknown }).azureDeviceComplianceStatus)
            : r.status === 404
              ? 'not seen yet'
              : `HTTP ${r.status}`;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      } catch (err) {
        statuses.set(`error ${(err as Error).message}`, (statuses.get(`error ${(err as Error).message}`) ?? 0) + 1);
      }
    }
    say(
      `  status of ${[...statuses.values()].reduce((a, b) => a + b, 0)} sampled devices now: ${[...statuses].map(([s, n]) => `${s} ${n}`).join(', ')}`,
    );
    say(
      "  (In-progress: Microsoft has not confirmed yet, the device polls its upload's status; Failed: mostly devices without an Azure device id)",
    );
  }
  http.close();
  if (total.errors > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(
      `simulate: ${err.message}\n${err.message.startsWith('unknown') || err.message.startsWith('unexpected') ? `${USAGE}\n` : ''}`,
    );
    process.exit(2);
  }
  process.stderr.write(`simulate failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
