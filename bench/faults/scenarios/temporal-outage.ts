/** Temporal unreachable: the proxy in front of its frontend resets every connection for a while. */
import type { FaultScenario } from '../scenario';
import { cutFor } from '../tcp-proxy';

export function temporalOutage(o: { downMs?: number } = {}): FaultScenario {
  const downMs = o.downMs ?? 15_000;
  return {
    name: 'Temporal unreachable',
    how: `proxy in front of the frontend cut for ${downMs / 1000} s (open and new connections reset)`,
    async run(ctx) {
      await cutFor(ctx.stack.temporalProxy, downMs);
    },
  };
}
