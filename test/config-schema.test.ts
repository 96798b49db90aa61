// The published JSON Schema (schema/config.schema.json) keeps its promises: it is
// exactly what `npm run schema` writes from src/config/schema.ts; a real JSON Schema
// validator (ajv, strict) takes it; the config examples in docs/ pass it and the loader;
// docs/config.md documents every key it knows, with its default; and it never refuses
// what the loader accepts (the loader refuses more, only through its own named checks).
import t from 'tap';
import { Ajv, type ValidateFunction } from 'ajv';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, ConfigSchema, loadConfig, validateConfig } from '../src/config/index.js';
import { configJsonSchemaText } from '../src/config/json-schema.js';
import { UNDERSTOOD } from '../src/config/walk.js';
import { seeded } from './helpers/seeded.js';

// Loose JSON on purpose: most of the configs below are wrong.
type Json = any;

const root = path.resolve(import.meta.dirname, '..', '..');
const schemaFile = path.join(root, 'schema', 'config.schema.json');
const published = JSON.parse(fs.readFileSync(schemaFile, 'utf8'));
const docs = fs.readFileSync(path.join(root, 'docs', 'config.md'), 'utf8');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-schema-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
fs.mkdirSync(path.join(dir, 'keys'));
const keyFile = path.join(dir, 'keys', 'alpha');
fs.writeFileSync(keyFile, 'not a real key\n', { mode: 0o600 });
const FP = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';

function compile(): ValidateFunction {
  // strictRequired would refuse the workspace's `else: { required: ["host"] }`, whose
  // host is defined beside it rather than inside it: valid JSON Schema, a lint's blind spot.
  const ajv = new Ajv({ strict: true, strictRequired: false, allErrors: true });
  // VS Code's keyword for a pattern's message: an annotation to every other validator.
  ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
  return ajv.compile(published);
}

t.test('the checked-in file is what `npm run schema` writes', async (t) => {
  t.equal(fs.readFileSync(schemaFile, 'utf8'), configJsonSchemaText(),
    'schema/config.schema.json is out of date with src/config/schema.ts: run npm run schema and commit the result');
});

t.test('it is a valid draft-07 JSON Schema, with no keyword unknown to ajv in strict mode', async (t) => {
  t.equal(published.$schema, 'http://json-schema.org/draft-07/schema#');
  t.doesNotThrow(compile);
  t.notMatch(JSON.stringify(published), /"loader"/, 'the loader\'s own keyword stays out of the published file');
});

t.test('the loader reads every keyword the schema uses (none is published but not enforced)', async (t) => {
  const unknown: string[] = [];
  const visit = (node: Json, at: string): void => {
    for (const [k, v] of Object.entries(node)) {
      if (!Object.hasOwn(UNDERSTOOD, k)) unknown.push(`${at}: ${k}`);
      if (['items', 'propertyNames', 'if', 'then', 'else'].includes(k)) visit(v, `${at}/${k}`);
      if (['properties', 'patternProperties'].includes(k)) for (const [p, s] of Object.entries(v as object)) visit(s, `${at}/${p}`);
      if (['allOf', 'anyOf'].includes(k)) (v as Json[]).forEach((s, i) => visit(s, `${at}/${k}[${i}]`));
    }
  };
  visit(JSON.parse(JSON.stringify(ConfigSchema)), '');
  t.same(unknown, []);
});

t.test('the example configs in docs/ pass the published schema and the loader', async (t) => {
  // A config example is a JSON block with a "workspaces" object (status output has an array there).
  const examples = ['config.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md') && f !== 'config.md')]
    .flatMap((f) => [...fs.readFileSync(path.join(root, 'docs', f), 'utf8').matchAll(/```json\n([\s\S]*?)```/g)]
      .map((m) => m[1]!).filter((b) => /"workspaces"\s*:\s*\{/.test(b)).map((b, i) => ({ name: `docs/${f} example ${i + 1}`, text: b })));
  t.ok(examples.some((e) => e.name.startsWith('docs/config.md')), 'docs/config.md has an example');
  const check = compile();
  for (const [i, { name: where, text }] of examples.entries()) {
    const example: Json = JSON.parse(text);
    const valid = check(example);
    t.ok(valid, `${where} is valid against schema/config.schema.json${valid ? '' : `: ${JSON.stringify(check.errors)}`}`);
    // The key file it names is on an operator's host, not here: the loader checks that it is readable.
    const here = structuredClone(example);
    for (const w of [...Object.values<Json>(here.workspaces), ...Object.values<Json>(here.jumpHosts ?? {})]) w.privateKeyPath = keyFile;
    const file = path.join(dir, `example-${i}.json`);
    fs.writeFileSync(file, JSON.stringify(here, null, 2));
    const c = loadConfig(file);
    // Loaded, the pins are always a list (hostKeyFingerprint is a list of one).
    const loaded = ({ hostKeyFingerprint, hostKeyFingerprints, ...w }: Json) => ({ ...w, hostKeyFingerprints: hostKeyFingerprints ?? [hostKeyFingerprint] });
    for (const [name, w] of Object.entries<Json>(here.workspaces)) t.match(c.workspaces.get(name), { ...loaded(w), name }, `${where}: ${name} loads as written`);
    t.match(c.gateway, example.gateway ?? {}, `${where}: the gateway loads as written`);
  }
});

t.test("docs/config.md's tables give the schema's defaults", async (t) => {
  // Rows like | `opencode.port` | | 4096 | ... |, under a header naming a "default" column;
  // "`keepalive.intervalMs` / `timeoutMs`" with "1000 / 1800" is two keys. A null default
  // is described in words (the token is generated, ...), so it is not compared.
  const sections: Record<string, Json> = { Workspaces: published.properties.workspaces.patternProperties['^(.*)$'], Gateway: published.properties.gateway };
  let section: Json = null;
  let column = -1;
  let compared = 0;
  for (const line of docs.split('\n')) {
    const heading = /^## (\w+)/.exec(line);
    if (heading) section = sections[heading[1]!] ?? null;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells[0] === 'key') column = cells.indexOf('default');
    if (section === null || column < 0 || !cells[0]?.startsWith('`')) continue;
    const keys = cells[0].split(' / ').map((k) => k.replace(/`/g, ''));
    const prefix = keys[0]!.includes('.') ? keys[0]!.slice(0, keys[0]!.lastIndexOf('.') + 1) : '';
    const defaults = cells[column]!.split(' / ').map((d) => d.replace(/`/g, ''));
    for (const [i, key] of keys.entries()) {
      const node = (i === 0 ? key : prefix + key).split('.').reduce((n: Json, k) => n?.properties?.[k], section);
      t.ok(node, `${key} is a key of the schema`);
      if (node?.default === null) continue;
      const want = node?.default === undefined ? '' : typeof node.default === 'string' ? node.default : JSON.stringify(node.default);
      t.equal(defaults[keys.length === 1 ? 0 : i] ?? '', want, `the default of ${key}`);
      compared++;
    }
  }
  t.ok(compared >= 14, `${compared} defaults compared`);
});

t.test('every key the schema knows is in docs/config.md', async (t) => {
  const keys = new Set<string>();
  const visit = (node: Json): void => {
    for (const [k, s] of Object.entries<Json>(node.properties ?? {})) {
      keys.add(k);
      visit(s);
    }
    for (const s of [...Object.values<Json>(node.patternProperties ?? {}), ...(node.anyOf ?? []), ...(node.items ? [node.items] : [])]) visit(s);
  };
  visit(published);
  t.ok(keys.size > 20);
  for (const k of keys) t.match(docs, new RegExp(`[\`".]${k.replace(/\$/g, '\\$')}[\`"]`), `${k} is documented`);
});

// Seeded so a failure reproduces; the seed is in the test name.
t.test('what the schema refuses, the loader refuses; what only the loader refuses is one of its own checks (seed 0x5c4e)', async (t) => {
  const check = compile();
  const { rand, pick } = seeded(0x5c4e);
  const full = (): Json => ({
    $schema: '../schema/config.schema.json',
    workspaces: {
      alpha: {
        host: '10.0.0.2', port: 2222, user: 'workspace', privateKeyPath: 'keys/alpha', hostKeyFingerprint: FP,
        importFrom: ['/home/workspace/.local/share/other-opencode'], transport: { kind: 'tcp' },
        opencode: { port: 4100, command: 'opencode', idleTimeoutMs: 120_000, startTimeoutMs: 30_000 }, keepalive: { intervalMs: 500, timeoutMs: 900 },
      },
      'beta-2.x_y': { user: 'dev', privateKeyPath: keyFile, hostKeyFingerprint: FP, transport: { kind: 'command', argv: ['docker', 'exec', '-i', 'ctr', '/usr/sbin/sshd', '-i'] } },
    },
    gateway: { listen: '127.0.0.1:7391', token: 'change-me', tokenFile: '/run/warren/token', stateDir: '/var/lib/warren', allowedOrigins: ['https://ui.example.com'] },
    logLevel: 'debug',
  });
  const values: unknown[] = [null, true, 0, -1, 1, 22, 99, 100, 1000, 1.5, 1e300, 2 ** 31, 65535, 65536, 120_001, '', ' ', 'x', '22', '\0', 'a\nb', '\u2028',
    '~/k', 'keys/alpha', '/nonexistent', dir, 'relative/dir', '/abs/dir', 'tcp', 'command', 'ssh', 'info', 'INFO', FP, `${FP}=`, 'SHA256:short',
    '127.0.0.1:1', '0.0.0.0:80', '[::1]:7391', '/run/w.sock', '/run/', 'https://ui.example.com', 'https://ui.example.com/', 'null', '*',
    '30s', '1ms', '30d', '10 m', '-oProxyCommand=x', '[::1]', 'a b', 'h'.repeat(254), 'root', '1abc', 'x'.repeat(33), 'tok en', 'é',
    [], [1], ['/x'], ['x'], [''], Array.from({ length: 33 }, (_, i) => `/d/${i}`), Array.from({ length: 65 }, (_, i) => `https://u${i}.example`),
    {}, { kind: 'tcp' }, { kind: 'command' }, { kind: 'command', argv: [] }, { kind: 'command', argv: ['x'] }, { kind: 'tcp', argv: ['x'] }, { kind: 7 }];
  const keys = ['x', 'prot', 'host', 'port', 'kind', 'argv', '__proto__', 'a b', '', 'Alpha', 'gamma', '-x', 'x'.repeat(64), '$schema'];
  const paths = (v: unknown, at: (string | number)[] = []): (string | number)[][] => (v !== null && typeof v === 'object'
    ? [at, ...Object.entries(v).flatMap(([k, x]) => paths(x, [...at, Array.isArray(v) ? Number(k) : k]))] : [at]);
  const objects = (c: Json) => paths(c).filter((p) => { const v = p.reduce((o: Json, k) => o[k], c); return v !== null && typeof v === 'object' && !Array.isArray(v); });
  const parentOf = (c: Json, at: (string | number)[]) => at.slice(0, -1).reduce((o: Json, k) => o[k], c);
  // What JSON Schema cannot say, so only the loader checks it (src/config/checks.ts).
  // And a duration string's range: the schema matches its form, only the loader reads its value.
  const loaderOnly = (err: ConfigError) => /(\.privateKeyPath|^gateway\.listen|^gateway\.allowedOrigins\[\d+\])$/.test(err.key ?? '') || /duplicate workspace name/.test(err.message)
    || /ms.* \(got "[0-9]+(ms|s|m|h|d)"/.test(err.message);

  // Every single change (each value at each key, each key deleted, each odd key added
  // to each object), then random runs of two or three.
  const configs: Json[] = [];
  const change = (f: (c: Json) => void) => {
    const c = full();
    f(c);
    configs.push(c);
  };
  const add = (c: Json, at: (string | number)[], key: string, value: unknown) =>
    Object.defineProperty(at.reduce((o: Json, k) => o[k], c), key, { value, enumerable: true, configurable: true, writable: true });
  for (const at of paths(full()).filter((p) => p.length > 0)) {
    for (const v of values) change((c) => { parentOf(c, at)[at.at(-1)!] = structuredClone(v); });
    change((c) => { const p = parentOf(c, at); if (Array.isArray(p)) p.splice(Number(at.at(-1)), 1); else delete p[at.at(-1)!]; });
  }
  for (const at of objects(full())) for (const k of keys) change((c) => add(c, at, k, at.length === 1 && at[0] === 'workspaces' ? c.workspaces.alpha : 1));
  for (let n = 0; n < 1000; n++) {
    change((c) => {
      for (let m = 2 + Math.floor(rand() * 2); m > 0; m--) {
        const kind = Math.floor(rand() * 3);
        const at = kind === 2 ? pick(objects(c)) : pick(paths(c).filter((p) => p.length > 0));
        if (kind === 0) parentOf(c, at)[at.at(-1)!] = structuredClone(pick(values));
        else if (kind === 1 && !Array.isArray(parentOf(c, at))) delete parentOf(c, at)[at.at(-1)!];
        else if (kind === 2) add(c, at, pick(keys), at.length === 1 && at[0] === 'workspaces' ? structuredClone(c.workspaces.alpha ?? {}) : structuredClone(pick(values)));
      }
    });
  }

  const wrong: string[] = [];
  let bothRefuse = 0;
  let onlyLoader = 0;
  let bothAccept = 0;
  for (const c of configs) {
    // As a file would have it.
    const raw = JSON.parse(JSON.stringify(c));
    const schemaSays = check(raw);
    let err: ConfigError | null = null;
    try {
      validateConfig(raw, { baseDir: dir, path: null });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      err = e;
    }
    if (!schemaSays && err === null) wrong.push(`the schema refuses, the loader accepts: ${JSON.stringify(raw)} (${JSON.stringify(check.errors?.[0])})`);
    else if (schemaSays && err !== null && !loaderOnly(err)) wrong.push(`the schema accepts, the loader refuses for a reason the schema could say: ${err.message}`);
    if (!schemaSays && err !== null) bothRefuse++;
    if (schemaSays && err !== null) onlyLoader++;
    if (schemaSays && err === null) bothAccept++;
  }
  t.same(wrong.slice(0, 5), [], `${wrong.length} disagreements`);
  t.ok(bothRefuse > 3000 && onlyLoader > 100 && bothAccept > 500, `both refuse ${bothRefuse}, only the loader ${onlyLoader}, both accept ${bothAccept}`);
});
