// Process entry for `npm run azure-emulator`; the only emulator file that reads process.env.
import { startEmulator } from './index';

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 9443;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`AZURE_EMULATOR_PORT must be a port number, got '${raw}'`);
  return port;
}

function parseBool(name: string, raw: string | undefined): boolean {
  if (raw === undefined || raw === '') return false;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new Error(`${name} must be 'true' or 'false', got '${raw}'`);
}

async function main(): Promise<void> {
  const emulator = await startEmulator({
    port: parsePort(process.env.AZURE_EMULATOR_PORT),
    autoRegister: parseBool('AZURE_EMULATOR_AUTO_REGISTER', process.env.AZURE_EMULATOR_AUTO_REGISTER),
    logger: (line) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`),
  });
  process.stdout.write(`${JSON.stringify({ url: emulator.url, caPemPath: emulator.caPemPath })}\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    emulator.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'shutdown failed', err: String(err) })}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ level: 'error', msg: 'azure emulator failed to start', err: err instanceof Error ? err.message : String(err) })}\n`,
  );
  process.exit(1);
});
