/**
 * A pino logger whose JSON lines are kept, parsed, so a test can wait for what the code logged
 * (an observable event) instead of sleeping and assuming it happened.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/logging.js';

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface CapturedLog {
  logger: Logger;
  lines: LogLine[];
  /** The lines whose `msg` matches `re` (and whose fields include `fields`, when given). */
  find(re: RegExp, fields?: Readonly<Record<string, unknown>>): LogLine[];
}

export function capturingLogger(level: 'debug' | 'info' | 'warn' = 'info'): CapturedLog {
  const lines: LogLine[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  const logger = pino({ level }, dest) as unknown as Logger;
  const find = (re: RegExp, fields: Readonly<Record<string, unknown>> = {}): LogLine[] =>
    lines.filter((l) => re.test(l.msg) && Object.entries(fields).every(([k, v]) => l[k] === v));
  return { logger, lines, find };
}
