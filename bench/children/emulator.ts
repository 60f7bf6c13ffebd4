/**
 * The Azure emulator as a child process of the benchmark: autoRegister on (every device and user an
 * upload names exists), and `pollsBeforeTerminal` from argv (default 0: an upload's first status
 * poll already answers Completed, so a report costs one upload and one poll). Prints one JSON line
 * `{ url, caPemPath }` once it listens; SIGTERM stops it.
 */
import { startEmulator } from '../../emulator';

async function main(): Promise<void> {
  const polls = Number(process.argv[2] ?? '0');
  const emulator = await startEmulator({
    port: 0,
    autoRegister: true,
    pollsBeforeTerminal: Number.isInteger(polls) && polls >= 0 ? polls : 0,
  });
  process.stdout.write(`${JSON.stringify({ url: emulator.url, caPemPath: emulator.caPemPath })}\n`);
  const stop = (): void => {
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench emulator failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
