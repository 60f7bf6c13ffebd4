/**
 * Duplicate delivery: the MDM's client gives up on half its sends after 1–40 ms (before the answer)
 * and sends the same event again, and sends 30 % of the accepted events once more.
 */
import { sleep } from '../../lib/child';
import type { FaultScenario } from '../scenario';

export function duplicateDelivery(o: { forMs?: number } = {}): FaultScenario {
  const forMs = o.forMs ?? 20_000;
  return {
    name: 'duplicate delivery',
    how: `for ${forMs / 1000} s the MDM re-sends events after a 1–40 ms client timeout, and re-sends 30 % of accepted events`,
    async run(ctx) {
      ctx.load.setMode({ duplicateDelivery: true });
      try {
        await sleep(forMs);
      } finally {
        ctx.load.setMode({ duplicateDelivery: false });
      }
    },
  };
}
