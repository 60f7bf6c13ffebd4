/**
 * What a new device's first upload costs the Microsoft client and the service (docs/benchmarks.md,
 * "A new device's lookups in one batch"): `AzureComplianceClient.uploadDeviceState` for new devices
 * without inventory (the user and device lookups, then the upload), against the emulator in a child
 * process (its CPU counted apart), 16 in flight, in rounds. With `--against DIR`, the client of
 * another checkout (e.g. a worktree of an older commit) runs in the same process, the two taking
 * turns round by round, so a change to the client is compared on the same machine at the same time.
 *   npx tsx bench/client-cost.ts [--uploads 200] [--rounds 8] [--against DIR]
 * Prints ms of CPU per upload (this process, the emulator) for each client, and the medians as JSON.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { EmulatorControl } from '../emulator/control-client';
import { UsageError, numberArg, parseArgs, stringArg } from '../scripts/simulator/args';
import { reexecWithCa } from './lib/ca';
import { cpuDelta, cpuOf } from './lib/proc';
import { startEmulatorChild } from './lib/stack';

interface UploadingClient {
  ensureTenantOnboarded(): Promise<unknown>;
  uploadDeviceState(u: Record<string, unknown>): Promise<unknown>;
}
type ClientClass = new (cfg: Record<string, string>) => UploadingClient;

const CONCURRENCY = 16;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function uploads(client: UploadingClient, count: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        next++;
        const device = randomUUID();
        const now = new Date().toISOString();
        await client.uploadDeviceState({
          messageId: randomUUID(),
          azureDeviceId: device,
          userPrincipalName: `${device}@bench.example`,
          managementState: 'managed',
          complianceStatus: 'compliant',
          inventory: null,
          platform: 'iOS',
          lastCheckInTime: now,
          lastUpdateTime: now,
        });
      }
    }),
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), ['uploads', 'rounds', 'against'], ['help']);
  if (args.help) {
    process.stdout.write('usage: npx tsx bench/client-cost.ts [--uploads 200] [--rounds 8] [--against DIR]\n');
    return;
  }
  if (reexecWithCa()) return;
  const count = numberArg(args, 'uploads', 200);
  const rounds = numberArg(args, 'rounds', 8);
  const against = stringArg(args, 'against');
  const sides: Array<[string, string]> = [['this checkout', path.resolve(__dirname, '..')]];
  if (against !== undefined) sides.push([`--against ${against}`, path.resolve(against)]);

  const { child, url } = await startEmulatorChild(0);
  try {
    const tenantId = randomUUID();
    const clientId = randomUUID();
    const clientSecret = `secret-${randomUUID()}`;
    await new EmulatorControl(url).seed({ tenants: [{ tenantId, apps: [{ clientId, clientSecret }] }] });
    const cfg = { tenantId, clientId, clientSecret, authorityHost: url, graphBaseUrl: url };
    const clients = await Promise.all(
      sides.map(async ([name, root]) => {
        const mod = (await import(path.join(root, 'activities', 'azure', 'client.ts'))) as { AzureComplianceClient: ClientClass };
        const client = new mod.AzureComplianceClient(cfg);
        await client.ensureTenantOnboarded();
        await uploads(client, 20); // warm-up: JIT, tokens, connections
        return { name, client, own: [] as number[], emulator: [] as number[] };
      }),
    );
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? clients : [...clients].reverse();
      for (const side of order) {
        const cpu0 = process.cpuUsage();
        const emu0 = cpuOf({ emulator: [child.pid] });
        await uploads(side.client, count);
        const own = process.cpuUsage(cpu0);
        side.own.push((own.user + own.system) / 1000 / count);
        side.emulator.push(((cpuDelta(emu0, cpuOf({ emulator: [child.pid] })).emulator ?? NaN) * 1000) / count);
      }
    }
    const summary = clients.map((c) => ({ client: c.name, clientMsPerUpload: median(c.own), emulatorMsPerUpload: median(c.emulator) }));
    for (const s of summary)
      process.stdout.write(
        `${s.client}: client ${s.clientMsPerUpload.toFixed(3)} ms, emulator ${s.emulatorMsPerUpload.toFixed(3)} ms of CPU per first upload (median of ${rounds} rounds of ${count})\n`,
      );
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    await child.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof UsageError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
