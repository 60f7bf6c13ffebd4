/**
 * The supervisor of `npm start` with real child processes: a child with a restart policy is started
 * again after each crash with a doubling delay (capped), each time with a line naming it, its exit and
 * the delay, until its crashes within the window reach the limit; a child without a policy is reported
 * at its first exit. (test/foundation/start.test.ts checks the same on the real `npm start`.)
 */
import { strict as assert } from 'node:assert';
import { RESTART_WITH_BACKOFF, Supervisor, restartDelayMs, type Supervised } from '../../scripts/lib/supervisor';

describe('supervisor', function () {
  this.timeout(30_000);

  it("npm start's policy: 0.5 s, 1 s, 2 s, 4 s, 8 s, then capped at 10 s", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 9].map((n) => restartDelayMs(RESTART_WITH_BACKOFF, n)),
      [500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000],
    );
    assert.deepEqual({ ...RESTART_WITH_BACKOFF }, { initialDelayMs: 500, maxDelayMs: 10_000, maxCrashes: 5, windowMs: 60_000 });
  });

  it('restarts a crashing child with backoff, then gives up on the 4th crash within the window with one reason', async () => {
    const lines: string[] = [];
    const sup = new Supervisor((l) => lines.push(l), ['crasher']);
    const gaveUp = new Promise<{ child: Supervised; reason: string }>((resolve) =>
      sup.onUnexpectedExit((child, reason) => resolve({ child, reason })),
    );
    sup.start({
      name: 'crasher',
      command: process.execPath,
      args: ['-e', 'process.exit(3)'],
      env: {},
      tier: 1,
      restart: { initialDelayMs: 100, maxDelayMs: 200, maxCrashes: 4, windowMs: 60_000 },
    });
    const { child, reason } = await gaveUp;
    await sup.stopAll();
    assert.equal(reason, 'crasher crashed 4 times within 60 s (last: exit code 3)');
    assert.equal(child.exitCode, 3);
    const restarts = lines.filter((l) => l.includes('restarting it'));
    assert.deepEqual(restarts, [
      'crasher  | exited unexpectedly (exit code 3): restarting it in 0.1 s (restart 1; 4 crashes within 60 s stop everything)',
      'crasher  | exited unexpectedly (exit code 3): restarting it in 0.2 s (restart 2; 4 crashes within 60 s stop everything)',
      'crasher  | exited unexpectedly (exit code 3): restarting it in 0.2 s (restart 3; 4 crashes within 60 s stop everything)',
    ]);
    const pids = lines.filter((l) => l.startsWith('crasher  | restarted (pid ')).map((l) => Number(/pid (\d+)/.exec(l)![1]));
    assert.equal(pids.length, 3);
    assert.equal(new Set(pids).size, 3, 'a new process each time');
  });

  it('reports a child without a restart policy at its first exit, naming its signal', async () => {
    const sup = new Supervisor(() => {}, ['infra']);
    const reported = new Promise<string>((resolve) => sup.onUnexpectedExit((_c, reason) => resolve(reason)));
    const child = sup.start({ name: 'infra', command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'], env: {}, tier: 0 });
    process.kill(child.pid, 'SIGKILL');
    assert.equal(await reported, 'infra exited unexpectedly (killed by SIGKILL)');
    await sup.stopAll();
  });

  it('a restart still pending when everything stops is cancelled', async () => {
    const lines: string[] = [];
    const sup = new Supervisor((l) => lines.push(l), ['slow']);
    sup.start({
      name: 'slow',
      command: process.execPath,
      args: ['-e', 'process.exit(1)'],
      env: {},
      tier: 1,
      restart: { initialDelayMs: 300, maxDelayMs: 300, maxCrashes: 5, windowMs: 60_000 },
    });
    while (!lines.some((l) => l.includes('restarting it in 0.3 s'))) await new Promise((r) => setTimeout(r, 20));
    await sup.stopAll();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(lines.filter((l) => l.includes('restarted (pid')).length, 0);
    assert.equal(sup.list().filter((c) => !c.exited).length, 0);
  });
});
