import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs to stdout; credentials are redacted wherever they might appear. Writes are
 * buffered and flushed asynchronously (and on exit): a synchronous write per line cost the API a
 * third of its read throughput (docs/benchmarks.md). A process killed outright loses its last lines.
 */
export function createLogger(
  level: string,
  base: Record<string, unknown> = {},
  /** Default: stdout, asynchronously. */
  destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false }),
): Logger {
  return pino(
    {
      level,
      base: { ...base, pid: process.pid },
      redact: {
        paths: [
          'req.headers.authorization',
          'headers.authorization',
          '*.clientSecret',
          '*.accessToken',
          '*.apiKey',
          'clientSecret',
          'accessToken',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

type PlainLevel = 'debug' | 'info' | 'warn' | 'error';
type Internals = Record<symbol, unknown>;
const { streamSym, timeSym, chindingsSym, mixinSym, hooksSym, needsMetadataGsym } = pino.symbols;

/**
 * Writes one line as `logger[level](fields, message)` would (same stream, level number, time and
 * bindings, same JSON shape) but skips pino's serializers and redaction pass, which cost the access
 * line of every request. Only for fields that are strings and numbers which never carry a
 * credential. A logger with a mixin, a write hook or a stream that wants metadata goes through pino.
 */
export function writePlainLine(logger: Logger, level: PlainLevel, fields: Record<string, string | number>, message: string): void {
  if (!logger.isLevelEnabled(level)) return;
  const internals = logger as unknown as Internals;
  const stream = internals[streamSym] as { write(s: string): unknown; [needsMetadataGsym]?: boolean };
  if (internals[mixinSym] || (internals[hooksSym] as { streamWrite?: unknown } | undefined)?.streamWrite || stream[needsMetadataGsym]) {
    logger[level](fields, message);
    return;
  }
  let line = `{"level":${logger.levels.values[level]}${(internals[timeSym] as () => string)()}${internals[chindingsSym] as string}`;
  for (const key in fields) line += `,${JSON.stringify(key)}:${JSON.stringify(fields[key])}`;
  stream.write(`${line},"msg":${JSON.stringify(message)}}\n`);
}

/** What a request logs through: the levels routes use, each with fields and a message. */
export interface LevelLogger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/**
 * A child logger with `bindings`, created only when something logs through it: a request that logs
 * nothing but its access line (one call on the parent) costs no child. A class with prototype
 * methods, not closures: one is made per request.
 */
class LazyChild implements LevelLogger {
  private child: Logger | undefined;
  constructor(
    private readonly parent: Logger,
    private readonly bindings: Record<string, unknown>,
  ) {}
  private get logger(): Logger {
    return (this.child ??= this.parent.child(this.bindings));
  }
  debug(fields: object, message?: string): void {
    this.logger.debug(fields, message);
  }
  info(fields: object, message?: string): void {
    this.logger.info(fields, message);
  }
  warn(fields: object, message?: string): void {
    this.logger.warn(fields, message);
  }
  error(fields: object, message?: string): void {
    this.logger.error(fields, message);
  }
}

export function lazyChild(parent: Logger, bindings: Record<string, unknown>): LevelLogger {
  return new LazyChild(parent, bindings);
}

export type { Logger };
