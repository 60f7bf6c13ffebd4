/**
 * A tiny command-line parser for the simulator and the benchmark: `--name value`, `--name=value`
 * and bare flags (`--quick`). Unknown options are an error that names them.
 */
export type Parsed = Record<string, string | true>;

export function parseArgs(argv: readonly string[], known: readonly string[], flags: readonly string[] = []): Parsed {
  const out: Parsed = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (flags.includes(name)) {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      out[name] = true;
      continue;
    }
    if (!known.includes(name)) throw new UsageError(`unknown option --${name}`);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
    out[name] = value;
  }
  return out;
}

export class UsageError extends Error {}

export function numberArg(
  parsed: Parsed,
  name: string,
  fallback: number,
  check: { min?: number; max?: number; integer?: boolean } = {},
): number {
  const raw = parsed[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw === true || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${String(raw)}"`);
  if (check.integer && !Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number, got ${n}`);
  if (check.min !== undefined && n < check.min) throw new UsageError(`--${name} must be at least ${check.min}, got ${n}`);
  if (check.max !== undefined && n > check.max) throw new UsageError(`--${name} must be at most ${check.max}, got ${n}`);
  return n;
}

export function stringArg(parsed: Parsed, name: string): string | undefined {
  const v = parsed[name];
  return typeof v === 'string' ? v : undefined;
}
