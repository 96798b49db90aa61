// `warren reload` through the real CLI and daemon: a good edit is applied and shown,
// a bad one is refused with the daemon's report on stderr (exit 2) while the daemon
// keeps serving its running config, no daemon is one clear line, and SIGHUP takes the
// same path with its outcome in the log.
import t from 'tap';
import fs from 'node:fs';
import { createWorkspaces, run, waitFor } from '../container/testbed/index.js';
import { startDaemon } from './helpers/daemon.js';

const [one, two] = await createWorkspaces(2, { namePrefix: 'rl' });
t.teardown(() => Promise.all([one!.close(), two!.close()]));
const warren = (...args: string[]) => run([process.execPath, 'dist/src/cli/main.js', ...args], { timeoutMs: 90_000 });
const namesOf = async (socket: string) => {
  const s = await warren('status', '--json', '--socket', socket);
  return (JSON.parse(s.stdout) as { workspaces: Array<{ name: string }> }).workspaces.map((w) => w.name).sort();
};
const editConfig = (file: string, f: (c: any) => void) => {
  const c = JSON.parse(fs.readFileSync(file, 'utf8'));
  f(c);
  fs.writeFileSync(file, JSON.stringify(c, null, 2));
};

t.test('a good edit: exit 0, what changed on stdout, and status shows it', async (t) => {
  const d = await startDaemon(t, [one!]);
  d.writeConfig([one!, two!]);
  editConfig(d.configPath, (c) => { c.logLevel = 'info'; });
  const r = await warren('reload', '--socket', d.socket);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  t.equal(r.stdout, [
    `reloaded ${d.configPath}`,
    `  added:     ${two!.name}`,
    '  removed:   -',
    '  changed:   -',
    `  unchanged: ${one!.name}`,
    'note: logLevel changed; that applies at the next start of the daemon',
    '',
  ].join('\n'));
  t.same(await namesOf(d.socket), [one!.name, two!.name].sort(), 'status --json has the added workspace');
  t.match(d.log(), /config reloaded/);

  editConfig(d.configPath, (c) => { c.workspaces[two!.name].keepalive = { intervalMs: 7000 }; delete c.workspaces[one!.name]; c.logLevel = 'debug'; });
  const r2 = await warren('reload', '--socket', d.socket);
  t.equal(r2.code, 0, r2.stderr);
  t.match(r2.stdout, new RegExp(`^  removed:   ${one!.name}\n  changed:   ${two!.name}\n  unchanged: -\n$`, 'm'));
  t.notMatch(r2.stdout, /note:/, 'logLevel back to what runs: no note');
  t.same(await namesOf(d.socket), [two!.name]);
});

t.test('a bad edit: exit 2, the problems on stderr, the daemon keeps serving its running config', async (t) => {
  const d = await startDaemon(t, [one!]);
  editConfig(d.configPath, (c) => {
    c.workspaces[two!.name] = { ...c.workspaces[one!.name], port: 'twenty-two' };
    delete c.workspaces[one!.name].hostKeyFingerprint;
  });
  const r = await warren('reload', '--socket', d.socket);
  t.equal(r.code, 2, 'exit 2: a config error');
  t.equal(r.stdout, '');
  const [head, ...problems] = r.stderr.trimEnd().split('\n');
  t.match(head, new RegExp(`^warren: reload refused, the daemon keeps its running config: ${d.configPath} has (\\d+) problems?:$`));
  t.equal(problems.length, Number(/has (\d+) problem/.exec(head!)?.[1]), 'one line per problem counted');
  // Both mistakes at once, each on its line: the person fixes them in one go.
  t.equal(problems.length, 2, 'both problems');
  for (const p of problems) t.match(p, new RegExp(`^  (workspaces\\.${two!.name}\\.port: .*whole number|workspaces\\.${one!.name}\\.hostKeyFingerprint: .*required)`), p);
  t.same(await namesOf(d.socket), [one!.name], 'status: the running config');
  const g = await fetch(`${d.base}/v1/workspaces/${one!.name}/sessions`, { headers: d.headers() });
  t.equal(g.status, 200, 'the gateway still serves the old workspace');
  t.match(d.log(), /reload failed; the running config stays/);

  d.writeConfig([one!]);
  const fixed = await warren('reload', '--socket', d.socket);
  t.equal(fixed.code, 0, fixed.stderr);
  t.match(fixed.stdout, new RegExp(`unchanged: ${one!.name}\n`));
});

t.test('SIGHUP: the same reload, its outcome in the log', async (t) => {
  const d = await startDaemon(t, [one!]);
  fs.writeFileSync(d.configPath, '{ "workspaces": ');
  d.child.kill('SIGHUP');
  const line = await waitFor('the failed reload in the log', () => d.log().split('\n').find((l) => l.includes('reload failed; the running config stays')), { timeoutMs: 15_000 });
  t.match(JSON.parse(line), { origin: 'SIGHUP', problems: [{ key: null, message: /not valid JSON/ }] });
  d.writeConfig([one!, two!]);
  d.child.kill('SIGHUP');
  await waitFor('the reload', () => d.log().includes('config reloaded'), { timeoutMs: 15_000 });
  t.same(await namesOf(d.socket), [one!.name, two!.name].sort());
});

t.test('no daemon: the clear line, exit 1; usage mistakes exit 2', async (t) => {
  const none = await warren('reload', '--socket', '/nonexistent-warren/nothing.sock');
  t.equal(none.code, 1);
  t.match(none.stderr, /^warren: no warren daemon is answering on \/nonexistent-warren\/nothing\.sock: start one with warren daemon, or pass --socket\n$/);
  const extra = await warren('reload', 'alpha');
  t.equal(extra.code, 2);
  t.match(extra.stderr, /usage: warren reload \[--socket PATH\]/);
});
