import pino, { type Logger } from 'pino';

/** A batch of lines is written once it holds this many bytes… */
export const LOG_BATCH_BYTES = 4096;
/** …or, at the latest, this long after its first line. */
export const LOG_BATCH_MS = 100;

/**
 * A file descriptor written asynchronously in batches: lines gather in memory until LOG_BATCH_BYTES
 * are there or at most LOG_BATCH_MS passed, then go out in one write. One write per line cost the
 * API's device read about 4 % of its CPU at 4,000 requests a second (docs/benchmarks.md, "The access log
 * in batches"). pino flushes what is left when the process exits; a process killed outright loses
 * at most its last LOG_BATCH_MS of lines.
 */
export function batchedDestination(fd: number): pino.DestinationStream {
  const stream = pino.destination({ dest: fd, sync: false, minLength: LOG_BATCH_BYTES });
  // sonic-boom's byte count of what waits; were it ever missing, every tick flushes (an empty write).
  const waiting = () => (stream as unknown as { _len?: number })._len !== 0;
  const timer = setInterval(() => {
    if (waiting()) stream.flush();
  }, LOG_BATCH_MS);
  timer.unref();
  // A closed stream throws on flush: the timer ends with it.
  stream.on('close', () => clearInterval(timer));
  return stream;
}

/**
 * Structured JSON logs to stdout; credentials are redacted wherever they might appear. Writes are
 * batched and asynchronous (batchedDestination): a synchronous write per line cost the API a third
 * of its read throughput (docs/benchmarks.md).
 */
export function createLogger(
  level: string,
  base: Record<string, unknown> = {},
  /** Default: stdout, in batches. */
  destination: pino.DestinationStream = batchedDestination(1),
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
