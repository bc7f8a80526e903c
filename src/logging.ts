/** pino loggers: one root per process, children carry context (stream, session, peer). */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import pinoPretty from 'pino-pretty';
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

/** `pretty`: one readable line per entry (pino-pretty); `json`: one JSON object per line, for collectors. */
export type LogFormat = 'pretty' | 'json';

/** Pretty on a terminal, JSON when the output is a pipe or a file (a process manager, a collector). */
export function defaultLogFormat(out: { isTTY?: boolean } = process.stdout): LogFormat {
  return out.isTTY === true ? 'pretty' : 'json';
}

/**
 * The root logger of a node: `level` and above, `node` on every line, ISO times, level names
 * (`"level":"warn"`, not 40), secrets masked. `format` (default json): see LogFormat; pretty
 * output is colored when it goes to a terminal.
 */
export function createLogger(level: string, nodeId: string, destination?: DestinationStream, format: LogFormat = 'json'): Logger {
  const opts: LoggerOptions = {
    level,
    base: { node: nodeId },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...SECRET_SAFE_LOG_OPTIONS,
    formatters: { ...SECRET_SAFE_LOG_OPTIONS.formatters, level: (label) => ({ level: label }) },
  };
  if (format === 'pretty') {
    const toTerminal = destination === undefined && process.stdout.isTTY === true;
    const out = pinoPretty({
      ...(destination !== undefined ? { destination: destination as unknown as NodeJS.WritableStream } : { destination: 1 }),
      colorize: toTerminal,
      sync: true,
      translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: true,
    });
    return pino(opts, out);
  }
  return destination === undefined ? pino(opts) : pino(opts, destination);
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
