// `npm run schema`: writes schema/config.schema.json from the config schema in
// src/config/schema.ts. The file is checked in so that it ships and editors can point
// at it; test/config-schema.test.ts fails when it differs from what this writes.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configJsonSchemaText } from '../src/config/json-schema.js';

// Compiled to dist/scripts/, so the repository is two levels up.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const file = path.join(root, 'schema', 'config.schema.json');
const text = configJsonSchemaText();
const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, text);
console.log(before === text ? `${path.relative(root, file)}: unchanged` : `${path.relative(root, file)}: written`);
