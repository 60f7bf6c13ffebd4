/**
 * What the overview and the settings page ask Temporal: the Microsoft queue's backlog
 * (DescribeTaskQueue with stats) and the weekly report's Schedule. Each answer is optional: a Temporal
 * that does not answer makes that line say so, never the whole page fail.
 */
import { ScheduleNotFoundError } from '@temporalio/client';
import { weeklyReportScheduleIdOf } from '../../workers/fleet-client';
import { describeMicrosoftBacklog } from '../microsoft-queue';
import type { RouteContext } from '../context';

export type Answer<T> = { ok: true; value: T } | { ok: false; reason: string };

async function attempt<T>(fn: () => Promise<T>): Promise<Answer<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** Report activities waiting on `<task queue>-microsoft` (approximate, as the server counts them). */
export function microsoftBacklog(ctx: RouteContext): Promise<Answer<{ taskQueue: string; backlog: number }>> {
  const { temporal, config } = ctx.deps;
  return attempt(async () => {
    const { taskQueue, backlog } = await describeMicrosoftBacklog(temporal, config.temporal, (fn) => ctx.guard.temporal(fn));
    return { taskQueue, backlog };
  });
}

export interface WeeklySchedule {
  exists: boolean;
  paused: boolean;
  nextRuns: string[];
  lastRunAt: string | null;
}

/** The tenant's weekly report Schedule: paused or not, its next runs and its last one. */
export function weeklySchedule(ctx: RouteContext, tenantId: string): Promise<Answer<WeeklySchedule>> {
  const scheduleId = weeklyReportScheduleIdOf(tenantId, ctx.deps.tenantId);
  return attempt(async () => {
    try {
      const d = await ctx.guard.temporal(() => ctx.deps.temporal.schedule.getHandle(scheduleId).describe());
      const last = d.info.recentActions[d.info.recentActions.length - 1];
      return {
        exists: true,
        paused: d.state.paused,
        nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
        lastRunAt: last ? last.takenAt.toISOString() : null,
      };
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return { exists: false, paused: false, nextRuns: [], lastRunAt: null };
      throw err;
    }
  });
}
