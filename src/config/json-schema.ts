// The config schema as the JSON Schema file editors read (schema/config.schema.json,
// written by `npm run schema`): a config file with "$schema" pointing at it gets
// completion, hover text and most mistakes underlined as it is typed. It is the
// loader's own schema less the `loader` keyword (the words of the loader's messages).
// The loader checks more than an editor can: the key file on this host, a loopback
// listen address, browser origins, names equal but for case (checks.ts).
import { ConfigSchema } from './schema.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

// Keywords whose value is a schema, or a map or list of schemas: where `loader` can be.
const SCHEMA = ['items', 'propertyNames', 'if', 'then', 'else'];
const SCHEMA_MAP = ['properties', 'patternProperties'];
const SCHEMA_LIST = ['allOf', 'anyOf', 'oneOf'];

// For a person reading the file: what a node is first, what it contains last.
const FIRST = ['description', 'type', 'const', 'enum', 'default'];
const LAST = ['required', 'properties', 'propertyNames', 'patternProperties', 'additionalProperties', 'if', 'then', 'else', 'anyOf', 'items'];
const rank = (k: string) => (FIRST.includes(k) ? FIRST.indexOf(k) - FIRST.length : LAST.includes(k) ? 1 + LAST.indexOf(k) : 0);

function publishable(node: { [k: string]: Json }): { [k: string]: Json } {
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(node).sort(([a], [b]) => rank(a) - rank(b))) {
    if (k === 'loader') continue;
    if (SCHEMA.includes(k)) out[k] = publishable(v as { [k: string]: Json });
    else if (SCHEMA_MAP.includes(k)) out[k] = Object.fromEntries(Object.entries(v as { [k: string]: Json }).map(([p, s]) => [p, publishable(s as { [k: string]: Json })]));
    else if (SCHEMA_LIST.includes(k)) out[k] = (v as { [k: string]: Json }[]).map(publishable);
    else out[k] = v;
  }
  return out;
}

/** The published schema, as an object. */
export function configJsonSchema(): { [k: string]: Json } {
  // Through JSON first: TypeBox marks its nodes with symbols, which are not schema.
  const plain = JSON.parse(JSON.stringify(ConfigSchema)) as { [k: string]: Json };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'warren configuration',
    description: 'The config file of warren, the SSH-tunnel broker for OpenCode workspaces (docs/config.md). Generated from src/config/schema.ts by `npm run schema`: do not edit.',
    ...publishable(plain),
  };
}

/** The published schema, as the exact text of schema/config.schema.json. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
