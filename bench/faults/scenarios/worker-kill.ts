/**
 * Worker SIGKILL, twice: once while reports are in flight (uploads held 1.5 s by the emulator, so
 * the kill lands between an upload and its answer), once while a fleet sweep (`POST /v1/sync`)
 * signals the devices. Each time a new worker starts a few seconds later, as a supervisor would.
 */
import { sleep } from '../../lib/child';
import type { FaultContext, FaultScenario } from '../scenario';

const RESTART_AFTER_MS = 2_000;

async function startSweep(ctx: FaultContext): Promise<string> {
  const r = await fetch(`${ctx.stack.apiUrl}/v1/sync`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ctx.stack.keys.admin}`, 'Content-Type': 'application/json' },
    body: '{}',
    signal: AbortSignal.timeout(10_000),
  });
  const text = await r.text();
  if (r.status !== 202) throw new Error(`POST /v1/sync answered ${r.status}: ${text.slice(0, 200)}`);
  return (JSON.parse(text) as { operationId: string }).operationId;
}

export function workerKill(o: { sweepSignalMs?: number } = {}): FaultScenario {
  return {
    name: 'worker SIGKILL',
    how: 'SIGKILL mid-report (uploads held 1.5 s), new worker 2 s later; SIGKILL mid-sweep (POST /v1/sync), new worker 2 s later',
    async run(ctx) {
      const hold = await ctx.control.addFault({ match: { service: 'intune', method: 'PUT' }, delayMs: 1_500 });
      await sleep(1_000);
      await ctx.stack.killWorker();
      await ctx.control.removeFault(hold.id).catch(() => undefined);
      await sleep(RESTART_AFTER_MS);
      await ctx.stack.startWorker();
      await sleep(3_000);
      const operationId = await startSweep(ctx);
      ctx.log(`sweep ${operationId} started`);
      await sleep(o.sweepSignalMs ?? 1_500);
      await ctx.stack.killWorker();
      await sleep(RESTART_AFTER_MS);
      await ctx.stack.startWorker();
    },
  };
}
