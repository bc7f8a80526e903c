/**
 * Writes srt-relay.yml, the annotated example config, from schema/config.schema.json
 * (src/config/example-config.ts). Run it after changing the schema: `npm run gen:example-config`.
 * test/config-example.test.ts fails while the committed file differs from what this writes.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exampleConfig } from '../src/config/example-config.js';

// This file runs as dist/scripts/gen-example-config.js; the example lives at the repository root.
const target = fileURLToPath(new URL('../../srt-relay.yml', import.meta.url));
writeFileSync(target, exampleConfig());
process.stdout.write(`wrote ${target}\n`);
