/**
 * Experiment (not part of `npm run bench`): CPU per call of pieces of the device GET, this
 * checkout's against another's (`DIR`, e.g. the main checkout), alternated in one process so the
 * machine's load weighs on both alike: the key resolver with the admin key, the timeout guard
 * around a settled query, and the access log line into a discarding stream.
 *
 *   npx tsx bench/read-pieces.ts DIR [rounds=5] [calls=100000]
 */
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../lib/logger';

type Resolver = { resolve(a: string, t: string | undefined): Promise<unknown> };
type Auth = { createKeyResolver(o: object): Resolver };
type Deps = { withTimeout<T>(p: Promise<T>, ms: number): Promise<T> };

const [dir, roundsArg = '5', callsArg = '100000'] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: read-pieces.ts DIR [rounds] [calls]\n');
  process.exit(2);
}
const rounds = Number(roundsArg);
const calls = Number(callsArg);
const admin = 'a'.repeat(43);

async function cpuPerCall(fn: () => unknown): Promise<number> {
  for (let i = 0; i < 2_000; i++) await fn();
  const t0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) await fn();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / calls;
}

const nullStream = new Writable({ write: (_c, _e, cb) => cb() });
/** The API's logger (lib/logger.ts, its redaction included), into a discarding stream. */
const logger = () => createLogger('info', { service: 'api' }, nullStream);

async function main(): Promise<void> {
  const sides = await Promise.all(
    [process.cwd(), path.resolve(dir!)].map(async (root, i) => {
      const auth = (await import(path.join(root, 'api', 'auth.ts'))) as Auth;
      const deps = (await import(path.join(root, 'api', 'dependencies.ts'))) as Deps;
      const lib = (await import(path.join(root, 'lib', 'logger.ts'))) as { writePlainLine?: (...a: unknown[]) => void };
      const resolver = auth.createKeyResolver({
        keys: { admin, mdm: 'm'.repeat(43) },
        envTenantId: 't',
        findKey: async () => null,
        findTenant: async () => 'active',
      });
      const log = logger();
      const line = {
        reqId: '2f1c7a0e-6b7e-4c8e-9a55-0d7f1b2c3d4e',
        method: 'GET',
        path: '/v1/devices/dev-000123',
        route: '/v1/devices/{deviceId}',
        status: 200,
        durationMs: 1.3,
      };
      return {
        name: i === 0 ? 'this' : 'other',
        pieces: {
          resolve: () => resolver.resolve(`Bearer ${admin}`, undefined),
          withTimeout: () => deps.withTimeout(Promise.resolve(1), 3_000),
          accessLine: lib.writePlainLine ? () => lib.writePlainLine!(log, 'info', line, 'request') : () => log.info(line, 'request'),
        } as Record<string, () => unknown>,
      };
    }),
  );
  const results: Record<string, Record<string, number[]>> = {};
  for (let r = 0; r < rounds; r++) {
    for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
      for (const [piece, fn] of Object.entries(side.pieces)) {
        ((results[piece] ??= {})[side.name] ??= []).push(await cpuPerCall(fn));
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  for (const [piece, bySide] of Object.entries(results)) {
    const f = (xs: number[]) => `${median(xs).toFixed(2)} µs (${xs.map((x) => x.toFixed(2)).join(' / ')})`;
    process.stdout.write(`${piece}: this ${f(bySide.this!)}; other ${f(bySide.other!)}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
