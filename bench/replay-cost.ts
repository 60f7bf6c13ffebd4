/**
 * Experiment, not a test: CPU cost of replaying the recorded device-workflow histories (the work a
 * worker does on every cache miss), to compare workflow code changes.
 *   npx tsx bench/replay-cost.ts [rounds]
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Runtime, Worker, bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../workers/workflow-bundle';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const rounds = Number(process.argv[2] ?? 20);
  const dir = path.join(__dirname, '..', 'test', 'histories', process.argv[3] ?? 'one-activity-reports');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  const histories = files.map((f) => ({ workflowId: f, history: historyFromJSON(JSON.parse(readFileSync(path.join(dir, f), 'utf8'))) }));
  const events = histories.reduce((a, h) => a + (h.history.events?.length ?? 0), 0);
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  const all = Array.from({ length: rounds }, (_, r) => histories.map((h) => ({ ...h, workflowId: `${h.workflowId}-${r}` }))).flat();
  const t0 = process.cpuUsage();
  const w0 = Date.now();
  let failed = 0;
  for await (const r of Worker.runReplayHistories({ workflowBundle: bundle }, all)) if (r.error) failed++;
  const cpu = process.cpuUsage(t0);
  process.stdout.write(
    `${all.length} replays (${events * rounds} events) in ${Date.now() - w0} ms wall, ${Math.round((cpu.user + cpu.system) / 1000)} ms CPU; ${((cpu.user + cpu.system) / 1000 / (events * rounds)).toFixed(3)} ms CPU per event; ${failed} failed\n`,
  );
}
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
