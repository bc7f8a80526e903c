/**
 * The JSON Schema of the config file (schema/config.schema.json, via ajv) and its errors in
 * words: each ajv error becomes `key.path: what is wrong (got ...)`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { orList } from '../errors.js';
import { maskUrl } from './secrets.js';
import { closest, isSecretPath, showValue, type Problems, type Seg } from './problems.js';

let validator: ValidateFunction | undefined;
let schemaPath: string | undefined;

/** Absolute path of schema/config.schema.json (found above this module, in src/ or dist/src/). */
export function configSchemaPath(): string {
  if (schemaPath !== undefined) return schemaPath;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'schema', 'config.schema.json');
    if (existsSync(candidate)) {
      schemaPath = candidate;
      return candidate;
    }
    dir = dirname(dir);
  }
  throw new Error('srt-relay: schema/config.schema.json not found next to the installed package');
}

/** The parsed JSON Schema of the config file. */
export function configSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(configSchemaPath(), 'utf8')) as Record<string, unknown>;
}

function getValidator(): ValidateFunction {
  if (validator === undefined) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    // VS Code's extension keyword: the text shown when a `pattern` fails; we show it too.
    ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
    validator = ajv.compile(configSchema());
  }
  return validator;
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  integer: 'a whole number',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object ({...})',
  array: 'a list ([...])',
  null: 'null',
};

function pointerSegs(pointer: string, data: unknown): Seg[] {
  if (pointer === '') return [];
  const segs: Seg[] = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      const i = Number(part);
      segs.push(i);
      cur = cur[i];
    } else {
      segs.push(part);
      cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined;
    }
  }
  return segs;
}

type Schema = Record<string, unknown>;

function num(schema: Schema | undefined, key: string): number | undefined {
  const v = schema?.[key];
  return typeof v === 'number' ? v : undefined;
}

function rangeText(lo: number | undefined, hi: number | undefined, unit = ''): string {
  if (lo !== undefined && hi !== undefined) return `must be ${lo} to ${hi}${unit}`;
  if (lo !== undefined) return `must be at least ${lo}${unit}`;
  return `must be at most ${hi ?? '?'}${unit}`;
}

/** One ajv error → a key path and a message; undefined to skip it. */
/** (Also used for API bodies, src/api/openapi.ts.) */
export function describeAjvError(e: ErrorObject, data: unknown): { segs: Seg[]; message: string } | undefined {
  const segs = pointerSegs(e.instancePath, data);
  const parent = e.parentSchema as Schema | undefined;
  const value: unknown = e.data;
  const secret = isSecretPath(segs);
  const params = e.params as Record<string, unknown>;

  if (e.propertyName !== undefined) {
    // A key of a map (a stream name) failed its propertyNames schema.
    const name = e.propertyName;
    const what = segs[segs.length - 1] === 'streams' ? 'stream name' : 'name';
    let rule: string;
    if (e.keyword === 'pattern') {
      rule = typeof parent?.['patternErrorMessage'] === 'string' ? parent['patternErrorMessage'] : `must match ${String(params['pattern'])}`;
    } else if (e.keyword === 'minLength' || e.keyword === 'maxLength') {
      rule = `${rangeText(num(parent, 'minLength'), num(parent, 'maxLength'), ' characters')} (got ${[...name].length})`;
    } else {
      rule = e.message ?? 'is not valid';
    }
    return { segs: [...segs, name], message: `invalid ${what}: ${rule}` };
  }

  switch (e.keyword) {
    case 'propertyNames':
      return undefined; // reported through the inner error, which carries the name
    case 'type': {
      const types = Array.isArray(params['type']) ? (params['type'] as string[]) : String(params['type']).split(',');
      const want = orList(types.map((t) => TYPE_WORDS[t] ?? t));
      let hint = '';
      if (typeof value === 'string' && !secret && (types.includes('integer') || types.includes('number')) && /^-?[0-9.]+$/.test(value)) {
        hint = `; write it without quotes: ${value}`;
      } else if (typeof value === 'string' && types.includes('boolean') && /^(true|false)$/i.test(value)) {
        hint = `; write it without quotes: ${value.toLowerCase()}`;
      }
      return { segs, message: `must be ${want} (got ${showValue(value, secret)})${hint}` };
    }
    case 'enum': {
      const allowed = (params['allowedValues'] as unknown[]).map(String);
      const near = typeof value === 'string' ? closest(value, allowed) : undefined;
      const hint = near !== undefined && near !== value ? `; did you mean "${near}"?` : '';
      return { segs, message: `must be one of ${allowed.join(', ')} (got ${showValue(value, secret)})${hint}` };
    }
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      const known = Object.keys((parent?.['properties'] as Schema | undefined) ?? {}).filter((k) => k !== '$schema');
      const near = closest(key, known);
      const hint = near !== undefined ? `did you mean "${near}"? ` : '';
      return {
        segs: [...segs, key],
        message: `unknown key; ${hint}valid keys here are ${known.join(', ')} (remove or rename it)`,
      };
    }
    case 'required': {
      const key = String(params['missingProperty']);
      const prop = (parent?.['properties'] as Record<string, Schema> | undefined)?.[key];
      const example = Array.isArray(prop?.['examples']) ? prop['examples'][0] : undefined;
      const eg = example === undefined ? '' : `, e.g. "${key}": ${JSON.stringify(example)}`;
      return { segs: [...segs, key], message: `is required${eg}` };
    }
    case 'minimum':
    case 'maximum': {
      const unit = segs.length > 0 && /Ms$/.test(String(segs[segs.length - 1])) ? ' milliseconds' : '';
      return { segs, message: `${rangeText(num(parent, 'minimum'), num(parent, 'maximum'), unit)} (got ${showValue(value, secret)})` };
    }
    case 'exclusiveMinimum':
      return { segs, message: `must be more than ${String(params['limit'])} (got ${showValue(value, secret)})` };
    case 'exclusiveMaximum':
      return { segs, message: `must be less than ${String(params['limit'])} (got ${showValue(value, secret)})` };
    case 'minLength':
    case 'maxLength': {
      const len = typeof value === 'string' ? [...value].length : 0;
      const lo = num(parent, 'minLength');
      const hi = num(parent, 'maxLength');
      if (lo === 1 && len === 0) return { segs, message: 'must not be empty' };
      return { segs, message: `${rangeText(lo, hi, ' characters')} (got ${len})` };
    }
    case 'pattern': {
      const rule =
        typeof parent?.['patternErrorMessage'] === 'string' ? parent['patternErrorMessage'] : `must match ${String(params['pattern'])}`;
      return { segs, message: `${rule} (got ${showValue(typeof value === 'string' ? maskUrl(value) : value, secret)})` };
    }
    default:
      return { segs, message: e.message ?? `is not valid (${e.keyword})` };
  }
}

/** Adds every schema problem of `data` (a whole config object) to `problems`. */
export function addSchemaProblems(data: unknown, problems: Problems): void {
  const validate = getValidator();
  if (validate(data)) return;
  for (const e of validate.errors ?? []) {
    const d = describeAjvError(e, data);
    if (d !== undefined) problems.add(d.segs, d.message);
  }
}
