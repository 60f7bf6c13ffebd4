/**
 * The benchmarks talk to the Azure emulator over HTTPS themselves (its control API), so Node must
 * trust the emulator's CA from its start: NODE_EXTRA_CA_CERTS is read once, when the process starts.
 * `reexecWithCa()` runs the same command again with it set, so every documented command works from
 * a fresh shell.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { ensureCa } from '../../emulator/ca';

/** Re-executes this process with NODE_EXTRA_CA_CERTS set to the emulator's CA (exiting with its status); returns false when already so. */
export function reexecWithCa(): boolean {
  const caPemPath = ensureCa().caPemPath;
  const current = process.env.NODE_EXTRA_CA_CERTS;
  if (current && existsSync(current) && readFileSync(current, 'utf8').includes(readFileSync(caPemPath, 'utf8').trim())) return false;
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caPemPath },
  });
  process.exit(r.status ?? 1);
}
