/** A real restart of the Temporal dev server (SIGTERM, then started again on the same SQLite file and port). */
import type { FaultScenario } from '../scenario';

export function temporalRestart(o: { downMs?: number } = {}): FaultScenario {
  const downMs = o.downMs ?? 2_000;
  return {
    name: 'Temporal dev-server restart',
    how: `temporal server start-dev stopped (SIGTERM) and started again ${downMs / 1000} s later on the same --db-filename`,
    async run(ctx) {
      await ctx.stack.restartTemporal(downMs);
    },
  };
}
