// `warren add` writes a config file a person may have written by hand: the entry goes
// in with the file's comments and layout kept, checked by the loader before anything
// is written, and a name already there (any case) or a broken file changes nothing.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepareAdd } from '../src/config/add-entry.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-add-entry-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const key = path.join(dir, 'key');
fs.writeFileSync(key, 'not read by the loader beyond being readable', { mode: 0o600 });
const FP = `SHA256:${'A'.repeat(43)}`;
const entry = { user: 'workspace', privateKeyPath: key, hostKeyFingerprint: FP, transport: { kind: 'command', argv: ['docker', 'exec', '-i', 'ctr', '/usr/sbin/sshd', '-i'] } };

t.test('a new file is created 0600 with the one workspace, only on commit', async (t) => {
  const file = path.join(dir, 'new', 'config.json');
  const p = prepareAdd(file, 'alpha', entry);
  t.notOk(fs.existsSync(file), 'nothing written before commit');
  t.equal(p.config.workspaces.get('alpha')?.transport.kind, 'command');
  p.commit();
  t.same(JSON.parse(fs.readFileSync(file, 'utf8')), { workspaces: { alpha: entry } });
  t.equal(fs.statSync(file).mode & 0o777, 0o600);
  t.same(fs.readdirSync(path.dirname(file)), ['config.json'], 'no temporary file left');
});

t.test('an existing JSONC file keeps its comments, and its mode', async (t) => {
  const file = path.join(dir, 'commented.json');
  const before = `{
  // the team's workspaces
  "workspaces": {
    "beta": { "host": "10.0.0.3", "user": "workspace", "privateKeyPath": ${JSON.stringify(key)}, "hostKeyFingerprint": "${FP}" }, // by hand
  },
  "gateway": { "listen": "127.0.0.1:7391" }
}
`;
  fs.writeFileSync(file, before, { mode: 0o640 });
  prepareAdd(file, 'alpha', entry).commit();
  const after = fs.readFileSync(file, 'utf8');
  t.match(after, '// the team\'s workspaces');
  t.match(after, '// by hand');
  t.match(after, '"alpha": {');
  t.equal(fs.statSync(file).mode & 0o777, 0o640);
});

t.test('a name already there, in any case, or a file that does not parse: refused, nothing written', async (t) => {
  const file = path.join(dir, 'taken.json');
  fs.writeFileSync(file, JSON.stringify({ workspaces: { Alpha: entry } }));
  const before = fs.readFileSync(file, 'utf8');
  t.throws(() => prepareAdd(file, 'alpha', entry), { code: 'WARREN_ERR_CONFIG_WRITE', exitCode: 2, message: /workspace "Alpha" is already in/ });
  fs.writeFileSync(file, '{ "workspaces": ');
  t.throws(() => prepareAdd(file, 'alpha', entry), { code: 'WARREN_ERR_CONFIG_WRITE', message: /is not valid JSON.*fix it first/ });
  fs.writeFileSync(file, before);
  t.throws(() => prepareAdd(file, 'beta', { ...entry, user: 'no spaces allowed' }), { code: 'WARREN_ERR_CONFIG_WRITE', message: /would not load with the new entry: workspaces\.beta\.user/ });
  t.equal(fs.readFileSync(file, 'utf8'), before);
  t.same(fs.readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'no temporary file left');
});
