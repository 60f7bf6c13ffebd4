/**
 * withTimeout (api/dependencies.ts), the bound on every query and Temporal call of a request, as a
 * pure unit: the outcome of the promise when it settles in time, TimeoutError when it does not, the
 * timer gone either way, and a promise that loses the race observed (never an unhandled rejection).
 */
import { strict as assert } from 'node:assert';
import { TimeoutError, withTimeout } from '../../api/dependencies';

/** The timers `fn` starts (Node's Timeout objects: `_destroyed` once cleared or fired). */
async function timersOf(fn: () => Promise<unknown>): Promise<Array<NodeJS.Timeout & { _destroyed?: boolean }>> {
  const started: NodeJS.Timeout[] = [];
  const original = globalThis.setTimeout;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    const t = original(...args);
    started.push(t);
    return t;
  }) as typeof setTimeout;
  try {
    await fn();
  } finally {
    globalThis.setTimeout = original;
  }
  return started;
}
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('API: withTimeout', () => {
  it('answers the value or the error of a promise that settles in time, with one timer, cleared', async () => {
    const ok = await timersOf(async () => assert.equal(await withTimeout(Promise.resolve(42), 10_000), 42));
    const boom = new Error('boom');
    const failed = await timersOf(() => assert.rejects(withTimeout(Promise.reject(boom), 10_000), (err) => err === boom));
    for (const started of [ok, failed]) {
      assert.equal(started.length, 1, 'one timer per call');
      assert.equal(started[0]!._destroyed, true, 'cleared once the promise settled');
    }
  });

  it('rejects with TimeoutError after ms when the promise does not settle', async () => {
    const started = Date.now();
    await assert.rejects(withTimeout(new Promise(() => {}), 30), (err) => err instanceof TimeoutError && err.ms === 30);
    assert.ok(Date.now() - started >= 25, 'not before its time');
  });

  it('observes a promise that rejects after losing the race', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let fail!: (err: Error) => void;
      const late = new Promise<never>((_, reject) => (fail = reject));
      await assert.rejects(withTimeout(late, 10), TimeoutError);
      fail(new Error('too late'));
      await settle();
      await settle();
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('keeps the first outcome: a timeout is not overwritten by a later value', async () => {
    let resolveLate!: (v: number) => void;
    const late = new Promise<number>((resolve) => (resolveLate = resolve));
    const bounded = withTimeout(late, 10);
    await assert.rejects(bounded, TimeoutError);
    resolveLate(1);
    await assert.rejects(bounded, TimeoutError);
  });
});
