/**
 * Recording path templates: `$stream`, `$node` and the strftime fields %Y %m %d %H %M %S (and
 * `%%` for a literal %), in UTC or an IANA time zone. Pure functions, no file system.
 *
 *   expandTemplate('rec/$stream/%Y-%m-%d/%H-%M-%S.ts', { stream: 'cam', node: 'a' }, date)
 *     → 'rec/cam/2026-12-03/14-05-09.ts'
 *
 * The files a template produced are found again with templatePattern() (the listing and
 * retention see exactly one target's files), under templateBase() (its fixed leading folders).
 */
import { RecordingTargetError } from '../errors.js';

export interface TemplateVars {
  stream: string;
  node: string;
}

const FIELDS = new Set(['Y', 'm', 'd', 'H', 'M', 'S', '%']);

/** Throws RecordingTargetError when the template has a field other than %Y %m %d %H %M %S %% or a `$` other than $stream/$node. */
export function checkTemplate(template: string): void {
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '%') {
      const f = template[i + 1];
      if (f === undefined || !FIELDS.has(f)) {
        throw new RecordingTargetError(
          `the recording path ${JSON.stringify(template)} has ${f === undefined ? 'a % at its end' : `the field %${f}`}; use %Y %m %d %H %M %S (or %% for a literal %)`,
          { template },
        );
      }
      i++;
    } else if (c === '$') {
      const rest = template.slice(i + 1);
      if (!rest.startsWith('stream') && !rest.startsWith('node')) {
        throw new RecordingTargetError(`the recording path ${JSON.stringify(template)} has a $ that is neither $stream nor $node`, { template });
      }
    }
  }
}

/** Replaces $stream and $node (they do not change while a push exists). */
export function substituteVars(template: string, vars: TemplateVars): string {
  return template.replace(/\$(stream|node)/g, (_m, name: string) => (name === 'stream' ? vars.stream : vars.node));
}

/** Calendar fields of `date` in `timeZone` (undefined = UTC). Throws RecordingTargetError for an unknown zone. */
export function dateFields(date: Date, timeZone?: string): Record<'Y' | 'm' | 'd' | 'H' | 'M' | 'S', string> {
  if (timeZone === undefined || timeZone === 'UTC') {
    const p = (n: number): string => String(n).padStart(2, '0');
    return { Y: String(date.getUTCFullYear()).padStart(4, '0'), m: p(date.getUTCMonth() + 1), d: p(date.getUTCDate()), H: p(date.getUTCHours()), M: p(date.getUTCMinutes()), S: p(date.getUTCSeconds()) };
  }
  const parts = formatter(timeZone).formatToParts(date);
  const get = (type: string): string => parts.find((x) => x.type === type)?.value ?? '00';
  return { Y: get('year').padStart(4, '0'), m: get('month'), d: get('day'), H: get('hour') === '24' ? '00' : get('hour'), M: get('minute'), S: get('second') };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    } catch {
      throw new RecordingTargetError(`timeZone ${JSON.stringify(timeZone)} is not a time zone this Node knows; use an IANA name such as "Europe/Berlin", or leave it out for UTC`, { timeZone });
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** Checks a time zone name (RecordingTargetError when unknown). */
export function checkTimeZone(timeZone: string): void {
  formatter(timeZone);
}

/** The strftime fields of a template (after substituteVars) filled in for `date`. */
export function expandDate(template: string, date: Date, timeZone?: string): string {
  const f = dateFields(date, timeZone);
  return template.replace(/%([YmdHMS%])/g, (_m, k: string) => (k === '%' ? '%' : f[k as keyof typeof f]));
}

/** Both steps at once: variables, then the date. */
export function expandTemplate(template: string, vars: TemplateVars, date: Date, timeZone?: string): string {
  return expandDate(substituteVars(template, vars), date, timeZone);
}

/** The leading folders of a template (after substituteVars) that no date field changes, with a trailing '/' ('' when none). */
export function templateBase(template: string): string {
  const field = template.search(/%[YmdHMS]/);
  const fixed = field < 0 ? template : template.slice(0, field);
  const slash = fixed.lastIndexOf('/');
  return slash < 0 ? '' : fixed.slice(0, slash + 1);
}

/**
 * A regular expression matching the paths (relative to templateBase, '/'-separated) of the files
 * a template (after substituteVars) writes: each date field becomes its digits, and a `-N` may
 * precede the extension (a second segment in the same second gets `-1`, `-2`, ...).
 */
export function templatePattern(template: string): RegExp {
  const rest = template.slice(templateBase(template).length);
  const dot = rest.lastIndexOf('.');
  const slash = rest.lastIndexOf('/');
  const stem = dot > slash ? rest.slice(0, dot) : rest;
  const ext = dot > slash ? rest.slice(dot) : '';
  const re = (s: string): string =>
    s.replace(/%[YmdHMS%]|[.*+?^${}()|[\]\\]/g, (m) => {
      if (m === '%Y') return '\\d{4}';
      if (m.startsWith('%') && m !== '%%') return '\\d{2}';
      if (m === '%%') return '%';
      return `\\${m}`;
    });
  return new RegExp(`^${re(stem)}(?:-\\d+)?${re(ext)}$`);
}
