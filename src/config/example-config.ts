/**
 * The annotated example config (`srt-relay.yml` at the repository root, `srt-relay config
 * --example`), generated from schema/config.schema.json so that it cannot drift from it: every
 * key, a one-line explanation (the first sentence of the schema's description), its default.
 *
 * Keys with a fixed default are written with it, so the file loads as the defaults; keys without
 * one (a name, a feature switched on by setting it, a secret) are commented out with an example.
 * `scripts/gen-example-config.ts` writes the file; test/config-example.test.ts fails when the
 * committed file differs from what this returns.
 */
import { stringify } from 'yaml';
import { configSchema } from './schema.js';

type Schema = Record<string, unknown>;

const HEADER = `# srt-relay configuration: every key, what it does, and its default.
#
# Generated from schema/config.schema.json by \`npm run gen:example-config\`; do not edit it by
# hand. Print it with \`srt-relay config --example\`; check your copy with
# \`srt-relay config --config srt-relay.yml\`. Reference: docs/config.md.
#
# Keys written out hold their default, so this file as it is runs the relay on the defaults.
# Keys commented out (#) have no fixed default, or switch a feature on: remove the # to set one.
# Flags (--srt-port, --api-port, ...) win over this file. Reload: kill -HUP <pid>.
`;

/** Resolves a local `$ref` (`#/definitions/x`), merging the referring schema's own keys over it. */
function deref(root: Schema, s: Schema): Schema {
  const ref = s['$ref'];
  if (typeof ref !== 'string') return s;
  const name = ref.replace(/^#\/definitions\//, '');
  const target = ((root['definitions'] as Record<string, Schema> | undefined) ?? {})[name] ?? {};
  const { $ref: _drop, ...own } = s;
  return { ...deref(root, target), ...own };
}

function description(s: Schema): string {
  return typeof s['description'] === 'string' ? s['description'].replace(/\s+/g, ' ').trim() : '';
}

/** The sentences of a description (split after '.', '!' or '?' followed by a space and a capital or a quote). */
function sentences(text: string): string[] {
  return text.split(/(?<!\b(?:e\.g|i\.e)\.)(?<=[.!?])\s+(?=[A-Z"(])/).filter((x) => x !== '');
}

/** First sentence, without the "Default ..." and "Flag ..." sentences it may contain. */
function explanation(s: Schema): string {
  const first = sentences(description(s)).find((x) => !/^(Default|Flag)/.test(x)) ?? '';
  return first;
}

/** The default as the schema states it: its `default`, else the description's "Default ..." sentence. */
function defaultText(s: Schema): string | undefined {
  if ('default' in s) return JSON.stringify(s['default']);
  const sentence = sentences(description(s)).find((x) => /^Default\b/.test(x));
  if (sentence === undefined) return undefined;
  return sentence.replace(/^Default[:,]?\s*/, '').replace(/\.$/, '');
}

/** The JSON value at the start of `text` (`["a", "b"] (why)` → the list), if there is one. */
function leadingJson(text: string): { value: unknown } | undefined {
  for (let end = text.length; end > 0; end--) {
    const head = text.slice(0, end).trim();
    if (head === '' || !/^[[{"0-9tf-]/.test(head)) continue;
    try {
      return { value: JSON.parse(head) as unknown };
    } catch {
      // shorter
    }
  }
  return undefined;
}

/**
 * A value the schema declares as the fixed default, to be written out: its `default`, or a list
 * or object the description gives as "Default: [...]".
 */
function defaultValue(s: Schema): { value: unknown } | undefined {
  if ('default' in s) return { value: s['default'] };
  const text = defaultText(s);
  if (text !== undefined && /^[[{]/.test(text)) return leadingJson(text);
  return undefined;
}

/** An example value: the schema's `examples[0]`, else its first enum value, else one of its type. */
function exampleValue(s: Schema, key: string): unknown {
  if (Array.isArray(s['examples']) && s['examples'].length > 0) return s['examples'][0];
  const stated = defaultText(s);
  const given = stated === undefined ? undefined : leadingJson(stated);
  if (given !== undefined && given.value !== null && (typeof given.value !== 'string' || given.value !== '')) return given.value;
  if (Array.isArray(s['enum']) && s['enum'].length > 0) return s['enum'][0];
  if (typeof s['patternErrorMessage'] === 'string' && /stream|name/i.test(description(s))) return 'cam1';
  const type = Array.isArray(s['type']) ? s['type'][0] : s['type'];
  switch (type) {
    case 'integer':
    case 'number':
      return typeof s['minimum'] === 'number' ? Math.max(s['minimum'], 1) : 1;
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object':
      return {};
    default:
      if (/passphrase|publish|play|secret|token/i.test(key)) return 'change-me-to-a-long-random-string';
      return 'text';
  }
}

function scalarText(v: unknown): string {
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return stringify(v, { lineWidth: 0 }).trimEnd();
}

function isObjectSchema(s: Schema): boolean {
  return s['type'] === 'object' && s['properties'] !== undefined;
}

interface Line {
  indent: number;
  kind: 'comment' | 'key' | 'blank';
  commented: boolean;
  text: string;
  /** The first key of a list item: written after "- ". */
  dash?: boolean;
}

class Writer {
  readonly lines: Line[] = [];

  comment(indent: number, text: string): void {
    if (text !== '') this.lines.push({ indent, kind: 'comment', commented: false, text });
  }

  key(indent: number, commented: boolean, text: string): void {
    this.lines.push({ indent, kind: 'key', commented, text });
  }

  blank(): void {
    const last = this.lines[this.lines.length - 1];
    if (last !== undefined && last.kind !== 'blank') this.lines.push({ indent: 0, kind: 'blank', commented: false, text: '' });
  }

  render(): string {
    return this.lines
      .map((l) => {
        if (l.kind === 'blank') return '';
        const pad = ' '.repeat(l.indent);
        if (l.kind === 'comment') return `${pad}# ${l.text}`;
        const body = l.dash === true ? `- ${l.text}` : l.text;
        return l.commented ? `${pad}# ${body}` : `${pad}${body}`;
      })
      .join('\n');
  }
}

function annotate(w: Writer, indent: number, s: Schema): void {
  const what = explanation(s);
  const def = defaultText(s);
  w.comment(indent, def === undefined ? what : `${what} Default: ${def}.`.replace(/\.\. Default/, '. Default'));
}

/**
 * Writes `key` of schema `s` at `indent`. `value` is the value to write (a default), or undefined
 * to write the key commented out with an example.
 */
function writeKey(root: Schema, w: Writer, indent: number, key: string, raw: Schema, inherited?: { value: unknown }, commentedParent = false): void {
  const s = deref(root, raw);
  const given = inherited ?? defaultValue(s);
  const commented = commentedParent || (given === undefined && !hasActiveDefault(root, s));
  annotate(w, indent, s);
  const props = s['properties'] as Record<string, Schema> | undefined;
  if (isObjectSchema(s) && props !== undefined) {
    w.key(indent, commented, `${key}:`);
    const values = given !== undefined && given.value !== null && typeof given.value === 'object' ? (given.value as Record<string, unknown>) : {};
    for (const [k, child] of Object.entries(props)) {
      const inner = Object.prototype.hasOwnProperty.call(values, k) ? { value: values[k] } : undefined;
      writeKey(root, w, indent + 2, k, child, inner, commented);
    }
    // A map of named entries (streams): one commented example entry with every key.
    const extra = s['additionalProperties'];
    if (extra !== undefined && typeof extra === 'object') {
      const entry = deref(root, extra as Schema);
      if (isObjectSchema(entry)) writeExampleEntry(root, w, indent + 2, 'cam1', entry);
    }
    return;
  }
  const items = s['items'] !== undefined ? deref(root, s['items'] as Schema) : undefined;
  if (s['type'] === 'array' && items !== undefined && isObjectSchema(items)) {
    w.key(indent, commented, `${key}:`);
    const list = given !== undefined && Array.isArray(given.value) && given.value.length > 0 ? (given.value as Record<string, unknown>[]) : [undefined];
    for (const item of list) writeListItem(root, w, indent + 2, items, item, commented);
    return;
  }
  const value = given !== undefined ? given.value : exampleValue(s, key);
  w.key(indent, commented, `${key}: ${scalarText(value)}`);
}

/** True when some key under `raw` has a default of its own (so an unset parent is still written out). */
function hasActiveDefault(root: Schema, raw: Schema): boolean {
  const s = deref(root, raw);
  if (defaultValue(s) !== undefined) return true;
  const props = s['properties'] as Record<string, Schema> | undefined;
  return props !== undefined && Object.values(props).some((p) => hasActiveDefault(root, p));
}

/** One list item (`- key: ...`): the keys `item` gives written out, the others commented. */
function writeListItem(root: Schema, w: Writer, indent: number, items: Schema, item: Record<string, unknown> | undefined, commented: boolean): void {
  const props = items['properties'] as Record<string, Schema>;
  const required = new Set(Array.isArray(items['required']) ? (items['required'] as string[]) : []);
  const sub = new Writer();
  for (const [k, child] of Object.entries(props)) {
    const childSchema = deref(root, child);
    const has = item !== undefined && Object.prototype.hasOwnProperty.call(item, k);
    // In a commented example item, required keys show examples; in a written one, only given keys are live.
    const value = has ? { value: item[k] } : commented && required.has(k) ? { value: exampleValue(childSchema, k) } : undefined;
    writeKey(root, sub, 0, k, child, value, commented || value === undefined);
  }
  // The dash goes on the first key written out (or, in a commented item, the first key).
  const first = sub.lines.find((l) => l.kind === 'key' && l.indent === 0 && (commented || !l.commented)) ?? sub.lines.find((l) => l.kind === 'key');
  if (first !== undefined) first.dash = true;
  // Comments before the dash line stand at the dash's indent, the rest under the item.
  const at = first === undefined ? 0 : sub.lines.indexOf(first);
  sub.lines.forEach((l, i) => w.lines.push({ ...l, indent: l.indent + indent + (i <= at ? 0 : 2) }));
}

/** A commented example entry of a map (a stream), every key with its default or an example. */
function writeExampleEntry(root: Schema, w: Writer, indent: number, name: string, entry: Schema): void {
  w.comment(indent, `A stream named "${name}" (any name; see streams above). ${explanation(entry)}`.trim());
  w.key(indent, true, `${name}:`);
  for (const [k, child] of Object.entries(entry['properties'] as Record<string, Schema>)) {
    const cs = deref(root, child);
    const value = defaultValue(cs) ?? { value: exampleValue(cs, k) };
    writeKey(root, w, indent + 2, k, child, isObjectSchema(cs) ? undefined : value, true);
  }
}

/** The annotated example config, from the schema. */
export function exampleConfig(schema: Schema = configSchema()): string {
  const w = new Writer();
  const props = schema['properties'] as Record<string, Schema>;
  for (const [key, child] of Object.entries(props)) {
    w.blank();
    if (key === '$schema') {
      annotate(w, 0, child);
      w.key(0, true, `$schema: ./node_modules/srt-relay/schema/config.schema.json`);
      continue;
    }
    writeKey(schema, w, 0, key, child);
  }
  return `${HEADER}\n${w.render()}\n`;
}
