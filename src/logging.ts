/** pino loggers: one root per process, children carry context (stream, session, peer). */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { LOG_REDACT, maskLogArgs, maskLogObject } from './config/secrets.js';

export type { Logger };

/**
 * What every relay logger hides (src/config/secrets.ts): secrets at any depth of the logged
 * object (`formatters.log`), in child bindings and serialized errors (pino's `redact`), and
 * URLs and `name=value` secrets in the message text (`hooks.logMethod`).
 */
export const SECRET_SAFE_LOG_OPTIONS: Pick<LoggerOptions, 'redact' | 'hooks' | 'formatters'> = {
  redact: { paths: [...LOG_REDACT.paths], censor: LOG_REDACT.censor },
  formatters: { log: maskLogObject },
  hooks: {
    logMethod(args, method) {
      method.apply(this, maskLogArgs(args) as Parameters<typeof method>);
    },
  },
};

export function createLogger(level: string, nodeId: string, destination?: DestinationStream): Logger {
  const opts: LoggerOptions = { level, base: { node: nodeId }, timestamp: pino.stdTimeFunctions.isoTime, ...SECRET_SAFE_LOG_OPTIONS };
  return destination === undefined ? pino(opts) : pino(opts, destination);
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
