/** Postgres unreachable: the proxy in front of it resets every connection for a while. */
import type { FaultScenario } from '../scenario';
import { cutFor } from '../tcp-proxy';

export function postgresOutage(o: { downMs?: number } = {}): FaultScenario {
  const downMs = o.downMs ?? 15_000;
  return {
    name: 'Postgres unreachable',
    how: `proxy in front of Postgres cut for ${downMs / 1000} s (open and new connections reset)`,
    async run(ctx) {
      await cutFor(ctx.stack.postgresProxy, downMs);
    },
  };
}
