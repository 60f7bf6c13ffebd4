/** Credentials: every access token issued so far revoked, three times during the load. */
import { sleep } from '../../lib/child';
import type { FaultScenario } from '../scenario';

export function tokensRevoked(o: { times?: number; everyMs?: number } = {}): FaultScenario {
  const times = o.times ?? 3;
  const everyMs = o.everyMs ?? 5_000;
  return {
    name: 'tokens revoked',
    how: `every issued access token revoked (401 from then on), ${times} times ${everyMs / 1000} s apart, under load`,
    async run(ctx) {
      for (let i = 0; i < times; i++) {
        await ctx.control.revokeTokens();
        await sleep(everyMs);
      }
    },
  };
}
