/**
 * docs/openapi.yaml as the API's one description of its request bodies: the file is read once
 * (with the `yaml` package), compiled by ajv (JSON Schema 2020-12, OpenAPI 3.1's dialect) together
 * with schema/config.schema.json, which it references by relative URL, and request bodies are
 * checked against the operation's `requestBody` schema there — no second copy of the rules in code.
 *
 * Problems become one ApiError 400: at the top of the body (not an object, unknown field, missing
 * field) ERR_API_BAD_REQUEST; in a field's value the operation's code (ERR_API_BAD_REQUEST, or
 * ERR_CONFIG_INVALID for PUT /api/v1/auth, which the config file's rules check). The message
 * lists every problem as `<field>: <what is wrong>` in the config loader's words;
 * `details.field` names the first field, `details.problems` all of them.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { configSchema, describeAjvError, formatKeyPath } from '../config/load.js';
import type { ErrorCode } from '../errors.js';
import { ApiError } from './http.js';

/** Base URIs the two documents are compiled under (the spec's `../schema/...` refs resolve against the first). */
export const OPENAPI_ID = 'file:///srt-relay/docs/openapi.yaml';
const CONFIG_SCHEMA_ID = 'file:///srt-relay/schema/config.schema.json';

/** Top-level OpenAPI words and the non-JSON-Schema words inside its schema objects. */
const OPENAPI_WORDS = ['openapi', 'info', 'jsonSchemaDialect', 'servers', 'tags', 'paths', 'components', 'webhooks', 'security', 'externalDocs', 'example', 'discriminator', 'xml'];

export type OpenApiDocument = {
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, Record<string, unknown>>;
} & Record<string, unknown>;

/** Where docs/openapi.yaml is: beside the package's dist/ (dist/src/api → ../../../docs). */
export function openApiPath(): string {
  return fileURLToPath(new URL('../../../docs/openapi.yaml', import.meta.url));
}

let loaded: { doc: OpenApiDocument; ajv: Ajv2020 } | undefined;

/** The parsed spec and an ajv instance holding it and the config schema. */
export function openApi(): { doc: OpenApiDocument; ajv: Ajv2020 } {
  if (loaded !== undefined) return loaded;
  const doc = parse(readFileSync(openApiPath(), 'utf8'), { uniqueKeys: true }) as OpenApiDocument;
  const ajv = new Ajv2020({
    allErrors: true,
    verbose: true,
    strict: true,
    allowUnionTypes: true,
    formats: { 'date-time': (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)), binary: true },
  });
  for (const keyword of OPENAPI_WORDS) ajv.addKeyword({ keyword });
  ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
  // The config schema is draft-07; the keywords it uses mean the same in 2020-12.
  const { $schema: _draft, ...config } = configSchema();
  ajv.addSchema({ ...config, $id: CONFIG_SCHEMA_ID });
  ajv.addSchema({ ...doc, $id: OPENAPI_ID });
  loaded = { doc, ajv };
  return loaded;
}

/** `#/a/b~1c` for path segments. */
export function pointer(...segs: string[]): string {
  return `#/${segs.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
}

/** The compiled schema at a JSON pointer of the spec (e.g. pointer('components', 'schemas', 'PushView')). */
export function specValidator(ptr: string): ValidateFunction {
  const { ajv } = openApi();
  const v = ajv.getSchema(`${OPENAPI_ID}${ptr}`);
  if (v === undefined) throw new Error(`docs/openapi.yaml has no schema at ${ptr}`);
  return v;
}

interface Operation {
  path: string;
  method: string;
}

const OPERATIONS = new Map<string, Operation>();

function operation(operationId: string): Operation {
  const known = OPERATIONS.get(operationId);
  if (known !== undefined) return known;
  for (const [path, item] of Object.entries(openApi().doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (typeof op === 'object' && op !== null && (op as { operationId?: unknown }).operationId === operationId) {
        OPERATIONS.set(operationId, { path, method });
        return { path, method };
      }
    }
  }
  throw new Error(`docs/openapi.yaml has no operation ${operationId}`);
}

/** The request body schema of an operation of the spec. */
export function requestValidator(operationId: string): ValidateFunction {
  const { path, method } = operation(operationId);
  return specValidator(pointer('paths', path, method, 'requestBody', 'content', 'application/json', 'schema'));
}

export interface BodyCheck {
  /** Code of a problem in a field's value (default ERR_API_BAD_REQUEST). */
  valueCode?: ErrorCode;
  /** Key path prefix of the messages (e.g. ['auth'] for `auth.timeoutMs: ...`). */
  prefix?: readonly string[];
}

/** Checks `body` against the operation's request schema in docs/openapi.yaml; throws ApiError 400. */
export function checkRequestBody(operationId: string, body: unknown, opts: BodyCheck = {}): void {
  const validate = requestValidator(operationId);
  if (validate(body)) return;
  const errors = (validate.errors ?? []) as ErrorObject[];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'ERR_API_BAD_REQUEST', 'request body must be a JSON object {...}');
  }
  const problems: Array<{ path: string; field: string; message: string }> = [];
  let topLevel = false;
  for (const e of errors) {
    // oneOf/anyOf summaries repeat what their branches said.
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if') continue;
    // The `null` branch of a nullable field (`anyOf: [{type: 'null'}, ...]`): the other branch says what is wrong.
    if (e.keyword === 'type' && (e.params as { type?: unknown }).type === 'null') continue;
    const d = describeAjvError(e, body);
    if (d === undefined) continue;
    if (d.segs.length <= 1 && (e.keyword === 'additionalProperties' || e.keyword === 'required' || e.instancePath === '')) topLevel = true;
    const field = formatKeyPath(d.segs);
    const path = formatKeyPath([...(opts.prefix ?? []), ...d.segs]);
    if (!problems.some((p) => p.path === path && p.message === d.message)) problems.push({ path, field, message: d.message });
  }
  const first = problems[0];
  const code: ErrorCode = topLevel ? 'ERR_API_BAD_REQUEST' : (opts.valueCode ?? 'ERR_API_BAD_REQUEST');
  const message = problems.length === 0 ? 'request body does not match docs/openapi.yaml' : problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  throw new ApiError(400, code, message, {
    details: { ...(first !== undefined ? { field: first.field, path: first.path } : {}), problems: problems.map(({ path, message: m }) => ({ path, message: m })) },
  });
}
