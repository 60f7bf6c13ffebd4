/**
 * A worker in a process of its own, so a test can SIGKILL it mid-report. Its configuration comes
 * as one JSON argument (tests only; the real worker entry is workers/main.ts).
 */
import { NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import { createDb } from '../../db';
import { createWorker } from '../../workers/worker';

interface Args {
  address: string;
  namespace: string;
  taskQueue: string;
  databaseUrl: string;
  azure: Parameters<typeof createWorker>[0]['azure'];
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as Args;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const db = createDb(args.databaseUrl);
  const connection = await NativeConnection.connect({ address: args.address });
  const worker = await createWorker({ connection, namespace: args.namespace, taskQueue: args.taskQueue, db, azure: args.azure });
  process.stdout.write('worker-ready\n');
  await worker.run();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
