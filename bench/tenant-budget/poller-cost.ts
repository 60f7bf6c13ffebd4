/**
 * The alternative to fairness keys: a Microsoft task queue per tenant, each needing its own Worker
 * (pollers) in every worker process. Measures what N idle Workers cost one process: resident memory,
 * CPU over 10 s, and the long polls they hold open at the server.
 *
 *   npx tsx bench/tenant-budget/poller-cost.ts [tenants=100]
 */
import { spawn } from 'node:child_process';
import { NativeConnection, Worker, Runtime, DefaultLogger } from '@temporalio/worker';
import { devServerArgs, findTemporalCli, temporalServing } from '../../lib/temporal-cli';
import { freePort } from '../../lib/ports';

const tenants = Number(process.argv[2] ?? 100);

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const binary = findTemporalCli(process.env.TEMPORAL_CLI_PATH);
  if (!binary) throw new Error('no temporal CLI');
  const port = await freePort();
  const server = spawn(binary, [...devServerArgs({ binary, port, uiPort: await freePort() }), '--headless'], { stdio: 'ignore' });
  while (!(await temporalServing(port))) await new Promise((r) => setTimeout(r, 200));
  const connection = await NativeConnection.connect({ address: `127.0.0.1:${port}` });
  const sample = async (label: string, count: number) => {
    const cpu0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 10_000));
    const cpu = process.cpuUsage(cpu0);
    console.log(
      JSON.stringify({
        label,
        workers: count,
        rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
        cpuPercentOverTenSeconds: Number((((cpu.user + cpu.system) / 1e6 / 10) * 100).toFixed(1)),
      }),
    );
  };
  await sample('no worker', 0);
  const workers: Worker[] = [];
  for (let i = 0; i < tenants; i++) {
    workers.push(
      await Worker.create({
        connection,
        taskQueue: `azure-compliance-microsoft-tenant-${i}`,
        activities: { noop: async () => undefined },
        maxTaskQueueActivitiesPerSecond: 40,
      }),
    );
  }
  const running = workers.map((w) => w.run());
  await sample('one idle Worker per tenant', tenants);
  for (const w of workers) w.shutdown();
  await Promise.all(running);
  await connection.close();
  server.kill('SIGTERM');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
