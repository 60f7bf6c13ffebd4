/**
 * Bounded calls to Postgres and Temporal (docs/http-contract.md, `service-unavailable`): a dependency that is down makes a route answer
 * 503 with Retry-After within a few seconds instead of hanging, and nothing is cached, so the next
 * request after the dependency is back succeeds by itself.
 */
import type { Client } from '@temporalio/client';
import { WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcServiceError } from '@temporalio/client';
import { pingDb, type Db } from '../db';
import { ProblemError, RETRY_AFTER_SECONDS, problem } from './problems';

export type Dependency = 'postgres' | 'temporal';

export class DependencyUnavailable extends Error {
  constructor(
    readonly dependency: Dependency,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${dependency} unavailable: ${reason}`, options);
    this.name = 'DependencyUnavailable';
  }

  toProblemError(): ProblemError {
    const name = this.dependency === 'postgres' ? 'Postgres' : 'Temporal';
    return new ProblemError(problem('service-unavailable', `${name} did not answer (${this.reason}); nothing was changed, retry later`), {
      'Retry-After': String(RETRY_AFTER_SECONDS),
    });
  }
}

export class TimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * Rejects with TimeoutError after `ms`; the losing promise's outcome is observed, never unhandled.
 * One promise and one timer per call (every query of a request goes through it).
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(ms)), ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
]);

function* causes(err: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  let current = err;
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current);
    yield current;
    if (current instanceof AggregateError) for (const e of current.errors) yield e;
    current = (current as { cause?: unknown }).cause;
  }
}

/** True when a database error means "Postgres is not reachable", not "the query is wrong". */
export function isDbUnavailableError(err: unknown): boolean {
  for (const e of causes(err)) {
    if (e instanceof TimeoutError) return true;
    if (!(e instanceof Error)) continue;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (NETWORK_CODES.has(code)) return true;
      // SQLSTATE class 08 (connection exception), 57P01-03 (shutdown / cannot connect now), 53300.
      if (/^08/.test(code) || /^57P0[123]$/.test(code) || code === '53300') return true;
    }
    if (e.name === 'KnexTimeoutError') return true;
    if (/Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect/i.test(e.message)) return true;
  }
  return false;
}

/** gRPC status codes (grpc-js is not a direct dependency of ours, so they are spelled out). */
const GRPC_STATUS_NAMES: Record<number, string> = { 1: 'CANCELLED', 4: 'DEADLINE_EXCEEDED', 8: 'RESOURCE_EXHAUSTED', 14: 'UNAVAILABLE' };
const UNAVAILABLE_GRPC = new Set<number>([1, 4, 8, 14]);

/** True when a Temporal client error means "the server did not answer in time / is unreachable". */
export function isTemporalUnavailableError(err: unknown): boolean {
  for (const e of causes(err)) {
    if (e instanceof TimeoutError) return true;
    if (e instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
    if (isGrpcServiceError(e) && UNAVAILABLE_GRPC.has(e.code)) return true;
  }
  return false;
}

export interface Timeouts {
  /** Every Temporal call of a request (signalWithStart, the sync Update, fleet operations). */
  temporalMs: number;
  /** Every database call of a request. */
  dbMs: number;
  /** Each check of /readyz. */
  readinessMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { temporalMs: 5_000, dbMs: 3_000, readinessMs: 2_000 };

export interface Guards {
  db<T>(fn: () => Promise<T>): Promise<T>;
  temporal<T>(fn: () => Promise<T>): Promise<T>;
  /** Calls into other components (fleet operations, the schedule) that may use both dependencies. */
  external<T>(fn: () => Promise<T>): Promise<T>;
}

/** Temporal calls of this process in flight, per client, under a deadline (see `temporalDeadline`). */
const callsInFlight = new WeakMap<Client, number>();

/**
 * Runs `fn`'s Temporal calls under a gRPC deadline (`Client.withDeadline`). The client keeps that
 * deadline in an AsyncLocalStorage, and while one is enabled Node runs its promise hooks on every
 * promise of the process: about a seventh of the CPU of a device GET (docs/benchmarks.md). So once
 * the last call of this process under a deadline has settled, the storage is disabled again; the
 * next `withDeadline` enables it by itself.
 */
export async function temporalDeadline<T>(temporal: Client, deadline: number, fn: () => Promise<T>): Promise<T> {
  if (typeof temporal.withDeadline !== 'function') return fn();
  callsInFlight.set(temporal, (callsInFlight.get(temporal) ?? 0) + 1);
  try {
    return await temporal.withDeadline(deadline, fn);
  } finally {
    const left = (callsInFlight.get(temporal) ?? 1) - 1;
    callsInFlight.set(temporal, left);
    if (left === 0) releaseCallContext(temporal);
  }
}

/** Disables the client's call-context storage (nothing runs under it now); harmless when absent. */
export function releaseCallContext(temporal: Pick<Client, 'connection'>): void {
  (temporal.connection as { callContextStorage?: { disable?: () => void } } | undefined)?.callContextStorage?.disable?.();
}

export function createGuards(temporal: Client, timeouts: Timeouts): Guards {
  // The gRPC deadline cancels the call (and the client's own retries) on the server side too;
  // the timer is the backstop for anything that ignores it.
  function withTemporalDeadline<T>(fn: () => Promise<T>): Promise<T> {
    return withTimeout(temporalDeadline(temporal, Date.now() + timeouts.temporalMs, fn), timeouts.temporalMs + 250);
  }

  return {
    async db(fn) {
      try {
        return await withTimeout(fn(), timeouts.dbMs);
      } catch (err) {
        if (isDbUnavailableError(err)) throw new DependencyUnavailable('postgres', reason(err), { cause: err });
        throw err;
      }
    },
    async temporal(fn) {
      try {
        return await withTemporalDeadline(fn);
      } catch (err) {
        if (err instanceof DependencyUnavailable) throw err;
        if (isTemporalUnavailableError(err)) throw new DependencyUnavailable('temporal', reason(err), { cause: err });
        throw err;
      }
    },
    async external(fn) {
      try {
        return await withTemporalDeadline(fn);
      } catch (err) {
        if (err instanceof DependencyUnavailable) throw err;
        if (isDbUnavailableError(err) && !(err instanceof TimeoutError))
          throw new DependencyUnavailable('postgres', reason(err), { cause: err });
        if (isTemporalUnavailableError(err)) throw new DependencyUnavailable('temporal', reason(err), { cause: err });
        throw err;
      }
    },
  };
}

function reason(err: unknown): string {
  for (const e of causes(err)) {
    if (e instanceof TimeoutError) return e.message;
    if (isGrpcServiceError(e)) return `gRPC ${GRPC_STATUS_NAMES[e.code] ?? e.code}`;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
  }
  return err instanceof Error ? err.name : 'error';
}

export type CheckResult = 'ok' | 'failed';

/**
 * One round of the readiness checks (what /readyz answers and /metrics reports as acc_dependency_up):
 * Postgres answers `select 1` and Temporal its system info, each within `timeoutMs`.
 */
export async function checkDependencies(
  deps: { db: Db; temporal: Client },
  timeoutMs: number,
  onFailure: (dependency: Dependency, err: unknown) => void,
): Promise<Record<Dependency, CheckResult>> {
  const check = async (name: Dependency, fn: () => Promise<unknown>): Promise<CheckResult> => {
    try {
      await withTimeout(fn(), timeoutMs);
      return 'ok';
    } catch (err) {
      onFailure(name, err);
      return 'failed';
    }
  };
  const [postgres, temporal] = await Promise.all([
    check('postgres', () => pingDb(deps.db)),
    check('temporal', () => temporalDeadline(deps.temporal, Date.now() + timeoutMs, () => deps.temporal.workflowService.getSystemInfo({}))),
  ]);
  return { postgres, temporal };
}
