/**
 * Microsoft failing: 503 on half the calls (token, Graph, Intune); connections dropped without an
 * answer; answers slower than the connector's AZURE_REQUEST_TIMEOUT_MS.
 */
import { sleep } from '../../lib/child';
import type { FaultScenario } from '../scenario';

export function microsoft503(o: { forMs?: number } = {}): FaultScenario {
  const forMs = o.forMs ?? 20_000;
  return {
    name: 'Microsoft 503s',
    how: `503 on half the calls to Microsoft (token, Graph, Intune) for ${forMs / 1000} s`,
    async run(ctx) {
      await ctx.control.addFault({ match: {}, response: { status: 503 }, probability: 0.5 });
      await sleep(forMs);
    },
  };
}

export function microsoftResets(o: { forMs?: number } = {}): FaultScenario {
  const forMs = o.forMs ?? 15_000;
  return {
    name: 'Microsoft connection resets',
    how: `a third of the calls to Microsoft get their connection dropped without an answer, for ${forMs / 1000} s`,
    async run(ctx) {
      await ctx.control.addFault({ match: {}, reset: true, probability: 0.33 });
      await sleep(forMs);
    },
  };
}

export function microsoftSlow(o: { forMs?: number } = {}): FaultScenario {
  const forMs = o.forMs ?? 15_000;
  return {
    name: 'Microsoft too slow',
    how: `half the Intune calls answered 1.5 s after AZURE_REQUEST_TIMEOUT_MS, for ${forMs / 1000} s`,
    async run(ctx) {
      await ctx.control.addFault({ match: { service: 'intune' }, delayMs: ctx.azureRequestTimeoutMs + 1_500, probability: 0.5 });
      await sleep(forMs);
    },
  };
}
