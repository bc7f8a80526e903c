/** pino loggers: one root per process, children carry context (stream, session, peer). */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, nodeId: string): Logger {
  return pino({ level, base: { node: nodeId }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
