/** Microsoft throttling: every Intune call answered 429 with `Retry-After: 2` for a while. */
import { sleep } from '../../lib/child';
import type { FaultScenario } from '../scenario';

const RETRY_AFTER_SECONDS = 2;

export function microsoftThrottling(o: { forMs?: number } = {}): FaultScenario {
  const forMs = o.forMs ?? 20_000;
  return {
    name: 'Microsoft throttling',
    how: `every Intune call 429 with Retry-After: ${RETRY_AFTER_SECONDS} for ${forMs / 1000} s (emulator fault)`,
    async run(ctx) {
      const startedAt = Date.now();
      const f = await ctx.control.addFault({
        match: { service: 'intune' },
        response: { status: 429, headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } },
      });
      await sleep(forMs);
      await ctx.control.removeFault(f.id);
      const endedAt = Date.now();
      return {
        // Every 429 of the fault's window is one the suite injected, with its Retry-After.
        retryAfterMs: (e) => {
          const at = Date.parse(e.at);
          return e.service === 'intune' && e.faulted === true && at >= startedAt - 1_000 && at <= endedAt + 1_000
            ? RETRY_AFTER_SECONDS * 1000
            : undefined;
        },
      };
    },
  };
}
