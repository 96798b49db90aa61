// pino loggers: JSON by default, readable on a terminal. Secrets are redacted by
// key wherever they might be attached to a log object.
import { pino, type Logger, type LoggerOptions } from 'pino';
import { prettyStream } from './log-pretty.js';
import { UsageError } from './errors.js';

export type { Logger };

export const REDACT_PATHS = [
  'password', '*.password', 'token', '*.token', 'privateKey', '*.privateKey', 'passphrase', '*.passphrase',
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
];

/** pino's levels, and silent; the config's logLevel takes the same (config/schema.ts). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
const LEVELS: readonly string[] = LOG_LEVELS;

export function createLogger(o: { level?: string; pretty?: boolean; destination?: number } = {}): Logger {
  const level = o.level ?? process.env.WARREN_LOG_LEVEL ?? 'info';
  if (!LEVELS.includes(level)) throw new UsageError(`log level ${JSON.stringify(level)} (WARREN_LOG_LEVEL?) must be one of ${LEVELS.join(', ')}`);
  const options: LoggerOptions = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  if (o.pretty) return pino(options, prettyStream(process.stderr, !process.env.NO_COLOR && process.env.TERM !== 'dumb'));
  return pino(options, pino.destination({ dest: o.destination ?? 2, sync: true }));
}

/** For library use without a logger: drops everything. */
export const silentLogger: Logger = pino({ level: 'silent' });
