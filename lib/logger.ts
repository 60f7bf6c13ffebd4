import pino, { type Logger } from 'pino';

/** Structured JSON logs; credentials are redacted wherever they might appear. */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { ...base, pid: process.pid },
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', '*.clientSecret', '*.accessToken', '*.apiKey', 'clientSecret', 'accessToken'],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
