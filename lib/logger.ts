import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs to stdout; credentials are redacted wherever they might appear. Writes are
 * buffered and flushed asynchronously (and on exit): a synchronous write per line cost the API a
 * third of its read throughput (docs/benchmarks.md). A process killed outright loses its last lines.
 */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
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
    pino.destination({ dest: 1, sync: false }),
  );
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
