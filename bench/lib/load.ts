/**
 * Load loops of the benchmark. Each is bounded by a count and a time limit.
 * - `closedLoop`: `concurrency` lanes, each sending its next request as soon as the last answered.
 * - `openLoop`: requests started on a fixed schedule (`rate` per second) whatever the answers do.
 * - `eachLimited`: a fixed list of tasks with at most `concurrency` in flight.
 */
import { summarize, type Summary } from '../../scripts/simulator/stats';

export interface ClosedLoopResult {
  requests: number;
  errors: number;
  seconds: number;
  perSecond: number;
  latencyMs: Summary;
  firstError?: string;
}

export async function closedLoop(o: {
  concurrency: number;
  durationMs: number;
  maxRequests: number;
  /** Sends request number `i`; resolves true when it succeeded. */
  send: (i: number) => Promise<{ ok: boolean; ms: number; error?: string }>;
}): Promise<ClosedLoopResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + o.durationMs;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < deadline && next < o.maxRequests) {
        const i = next++;
        try {
          const r = await o.send(i);
          if (r.ok) latencies.push(r.ms);
          else {
            errors++;
            firstError ??= r.error;
          }
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    requests: latencies.length,
    errors,
    seconds,
    perSecond: latencies.length / seconds,
    latencyMs: summarize(latencies),
    ...(firstError ? { firstError } : {}),
  };
}

/** Starts `count` tasks at `rate` per second (bounded by `maxInFlight` and `maxMs`); resolves when all settled. */
export async function openLoop(o: {
  rate: number;
  count: number;
  maxInFlight: number;
  maxMs: number;
  task: (i: number) => Promise<void>;
}): Promise<{ started: number; lateMs: number; seconds: number }> {
  const t0 = performance.now();
  const pending = new Set<Promise<void>>();
  let lateMs = 0;
  let i = 0;
  for (; i < o.count; i++) {
    const due = t0 + (i * 1000) / o.rate;
    const now = performance.now();
    if (now - t0 > o.maxMs) break;
    if (due > now) await new Promise((r) => setTimeout(r, due - now));
    else lateMs = Math.max(lateMs, now - due);
    while (pending.size >= o.maxInFlight) await Promise.race(pending);
    const p: Promise<void> = o
      .task(i)
      .catch(() => undefined)
      .finally(() => pending.delete(p));
    pending.add(p);
  }
  const seconds = (performance.now() - t0) / 1000;
  await Promise.allSettled([...pending]);
  return { started: i, lateMs, seconds };
}

export async function eachLimited<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}
