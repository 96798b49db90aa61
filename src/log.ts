// pino loggers: JSON by default, readable on a terminal. Secrets are redacted by
// key wherever they might be attached to a log object.
import { pino, type Logger, type LoggerOptions } from 'pino';
import { prettyStream } from './log-pretty.js';

export type { Logger };

export const REDACT_PATHS = [
  'password', '*.password', 'token', '*.token', 'privateKey', '*.privateKey', 'passphrase', '*.passphrase',
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
];

export function createLogger(o: { level?: string; pretty?: boolean; destination?: number } = {}): Logger {
  const options: LoggerOptions = {
    level: o.level ?? process.env.WARREN_LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  if (o.pretty) return pino(options, prettyStream(process.stderr, true));
  return pino(options, pino.destination({ dest: o.destination ?? 2, sync: true }));
}

/** For library use without a logger: drops everything. */
export const silentLogger: Logger = pino({ level: 'silent' });
