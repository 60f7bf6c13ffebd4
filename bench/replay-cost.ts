/**
 * Experiment, not a test: CPU cost of replaying the recorded device-workflow histories (the work a
 * worker does on every cache miss), to compare workflow code changes.
 *   npx tsx bench/replay-cost.ts [rounds] [histories folder] [--without-sandbox-timeout] [--no-preload] [--promise-sites] [--workflows PATH]
 *
 * `--no-preload` bundles without preloading the workflow modules (the worker preloads them:
 * WORKFLOW_BUNDLE_OPTIONS), so each replay evaluates them again, as every new run did before.
 *
 * `--workflows PATH` replays with another workflows module (e.g. bench/floor/workflows.ts, for a
 * floor run's history) instead of the connector's.
 *
 * It also counts the promises created in the sandbox while replaying (the workflow's and the SDK's
 * workflow-side code): the SDK records a source-mapped stack trace for every one of them (its promise
 * hook), so a workflow that awaits less costs less on each activation.
 *
 * It also counts the entries into the workflow sandbox. The SDK enters it with a timeout (its
 * deadlock detection), and for every such entry Node starts and joins a watchdog thread (a known
 * Node cost: nodejs/node pull request 47739, not merged). `--without-sandbox-timeout` enters
 * without one, in this process only, to measure what that costs; the worker never runs so
 * (docs/benchmarks.md, "The sandbox's timeout").
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Runtime, Worker, bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { REPLAY_SINKS } from '../workers/read-model-sink';
import { WORKFLOWS_PATH } from '../workers/workflow-bundle';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const args = process.argv.slice(2);
  const workflowsAt = args.indexOf('--workflows');
  const workflowsPath = workflowsAt >= 0 ? path.resolve(args[workflowsAt + 1] ?? '') : WORKFLOWS_PATH;
  const positional = args.filter((a, i) => !a.startsWith('--') && !(workflowsAt >= 0 && i === workflowsAt + 1));
  const withoutTimeout = process.argv.includes('--without-sandbox-timeout');
  // As the worker bundles them (WORKFLOW_BUNDLE_OPTIONS), the workflow modules are preloaded unless asked not to.
  const withoutPreload = process.argv.includes('--no-preload');
  const rounds = Number(positional[0] ?? 20);
  const dir = path.resolve(__dirname, '..', 'test', 'histories', positional[1] ?? 'one-activity-reports');
  // Replay runs the sandbox in this thread (the SDK's debug mode), so this sees every entry.
  let entries = 0;
  const enter = vm.Script.prototype.runInContext;
  vm.Script.prototype.runInContext = function (this: vm.Script, context: vm.Context, options?: vm.RunningScriptOptions) {
    entries++;
    if (!withoutTimeout || options?.timeout === undefined) return enter.call(this, context, options);
    const { timeout: _timeout, ...rest } = options;
    return enter.call(this, context, rest);
  };
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  const histories = files.map((f) => ({ workflowId: f, history: historyFromJSON(JSON.parse(readFileSync(path.join(dir, f), 'utf8'))) }));
  const events = histories.reduce((a, h) => a + (h.history.events?.length ?? 0), 0);
  const bundle = await bundleWorkflowCode({
    workflowsPath,
    preloadModules: withoutPreload ? [] : [workflowsPath],
    logger: new DefaultLogger('WARN'),
  });
  const all = Array.from({ length: rounds }, (_, r) => histories.map((h) => ({ ...h, workflowId: `${h.workflowId}-${r}` }))).flat();
  // A promise made in the sandbox has the sandbox's own Promise constructor, not this thread's.
  let promises = 0;
  // `--promise-sites`: where in the bundle each promise is made (the innermost frames), to see which await to drop.
  const sites = process.argv.includes('--promise-sites') ? new Map<string, number>() : undefined;
  const stopCounting = v8.promiseHooks.onInit((promise) => {
    if ((promise as Promise<unknown>).constructor === Promise) return;
    promises++;
    if (sites) {
      const frames = (new Error().stack ?? '').split('\n').filter((l) => l.includes('workflow-bundle'));
      const site =
        frames
          .slice(0, 3)
          .map((l) => l.trim().replace(/[^\s(]*workflow-bundle[^:]*:/, 'bundle:'))
          .join(' < ') || '(no bundle frame)';
      sites.set(site, (sites.get(site) ?? 0) + 1);
    }
  });
  const t0 = process.cpuUsage();
  const w0 = Date.now();
  entries = 0;
  let failed = 0;
  for await (const r of Worker.runReplayHistories({ workflowBundle: bundle, sinks: REPLAY_SINKS }, all)) if (r.error) failed++;
  const cpu = process.cpuUsage(t0);
  stopCounting();
  process.stdout.write(
    [...(sites ?? [])]
      .sort((a, b) => b[1] - a[1])
      .map(([site, n]) => `${(n / all.length).toFixed(2)} per replay  ${site}\n`)
      .join('') +
      `${all.length} replays (${events * rounds} events) in ${Date.now() - w0} ms wall, ${Math.round((cpu.user + cpu.system) / 1000)} ms CPU; ${((cpu.user + cpu.system) / 1000 / (events * rounds)).toFixed(3)} ms CPU per event; ${(entries / (events * rounds)).toFixed(2)} sandbox entries per event; ${(promises / (events * rounds)).toFixed(2)} promises created in the sandbox per event${withoutTimeout ? ' (entered without a timeout)' : ''}; ${failed} failed\n`,
  );
}
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
