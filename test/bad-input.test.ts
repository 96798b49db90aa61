// Hostile input through every door: the CLI (`warren chat`, `warren sessions`), the
// library (createBroker) and the gateway, on a real workspace. Session ids,
// workspace names, session directories and message text carry shell
// metacharacters, line breaks, NUL, very long strings and unicode. Each one is either
// refused with a clear one-line error (exit 2, a WarrenError code, a 4xx) or handled
// exactly (a message round-trips through the echoing model byte for byte). Payloads
// that would create canary files if any shell ever interpreted them prove that no
// command ran; refusals must also open no SSH channel and no connection at all.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import { createWorkspace, run, type RunResult } from '../container/testbed/index.js';
import { createBroker, type Broker } from '../src/index.js';
import { readEvents, startDaemon, ending } from './helpers/daemon.js';
import { configFile } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'badin' });
t.teardown(() => ws.close());
const W = ws.name;
const VALID_ID = 'ses_0123456789abABCDEFGHIJKLMN';

const CANARIES = [`/tmp/warren-canary-${process.pid}`, `${ws.home}/warren-canary`];
const evil = (c: string) => [`$(touch ${c})`, `\`touch ${c}\``, `;touch ${c}`, `|touch ${c}`, `&&touch ${c}`, `'$(touch ${c})'`, `"$(touch ${c})"`, `\ntouch ${c}\n`, '*'];
const METAS = [...evil(CANARIES[0]!), ...evil('$HOME/warren-canary')];
const UNICODE = 'RTL \u202eevil\u202c עברית 😀 e\u0301 \u200b';

// The daemon (gateway) and the CLI share the workspace's default opencode port, as
// they would in production; the library gets its own server so none stops another's.
const d = await startDaemon(t, [ws]);
const cliConfig = configFile(t, [ws]);
const libConfig = configFile(t, [ws], { [W]: { opencode: { port: 4097 } } });
const broker: Broker = createBroker(libConfig);
t.teardown(() => broker.close());
const sshdLog = `${ws.dir}/sshd.log`;

const warren = (args: string[], timeoutMs = 60_000) => run([process.execPath, 'dist/src/cli/main.js', ...args], { timeoutMs });
const post = (path: string, body: unknown) => fetch(`${d.base}${path}`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify(body) });
const gatewayChannels = async () => ((await (await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() })).json()) as { workspaces: Array<{ tunnel: { channelsOpened: number } }> }).workspaces[0]!.tunnel.channelsOpened;
const libChannels = () => broker.workspace(W).link.snapshot().channelsOpened;
const reply = (text: string) => `echo: ${text.trim()}`;

function oneLineError(t: Test, r: RunResult, what: string): void {
  t.equal(r.code, 2, `exit 2: ${what}`);
  t.equal(r.stdout, '', `nothing on stdout: ${what}`);
  t.match(r.stderr, /^warren: [^\n]*\n$/, `one line on stderr: ${what}`);
}

async function gatewayRefuses(t: Test, res: Response, codes: string[], what: string): Promise<void> {
  t.ok(res.status >= 400 && res.status < 500, `4xx (${res.status}): ${what}`);
  const body = await res.json() as { error: { code: string; message: string } };
  t.ok(codes.includes(body.error.code), `${body.error.code}: ${what}`);
  t.notMatch(body.error.message, /[\n\r\u2028\u2029\u202e]/, `a one-line message: ${what}`);
}

async function noCommandRan(t: Test): Promise<void> {
  for (const c of CANARIES) t.notOk(fs.existsSync(c), `no canary ${c} on the host`);
  const inside = await ws.runAsUser(['sh', '-c', 'for f in "$@"; do test -e "$f" && echo "$f"; done; exit 0', 'check', ...CANARIES]);
  t.equal(inside.stdout, '', 'no canary inside the workspace');
}

// Logins the workspace's sshd saw: the command line logs in on every run that connects.
const sshdLines = () => fs.readFileSync(sshdLog, 'utf8').split('\n').filter((l) => /Accepted publickey|preauth/.test(l)).length;

t.before(async () => {
  // Servers up first, so later counts see only what the inputs under test cause.
  t.equal((await fetch(`${d.base}/v1/workspaces/${W}/sessions`, { headers: d.headers() })).status, 200);
  await broker.sessions(W);
});
t.teardown(() => {
  for (const c of CANARIES) fs.rmSync(c, { force: true });
});

t.test('session ids: refused everywhere before anything opens', async (t) => {
  const ids = [...METAS.map((m) => `ses_${m}`), `ses_${'a'.repeat(10 * 1024)}`, `ses_${UNICODE}`, `${VALID_ID}\n`, `${VALID_ID}\0`, '', '../../etc/passwd', 'ses_../..'];
  const gwBefore = await gatewayChannels();
  const libBefore = libChannels();
  const sshdBefore = sshdLines();
  for (const id of ids) {
    await t.rejects(broker.sendMessage(W, id, { text: 'hi' }), { code: 'WARREN_ERR_SESSION_ID', exitCode: 2 }, `library: ${JSON.stringify(id.slice(0, 40))}`);
    const r = await post(`/v1/workspaces/${W}/sessions/${encodeURIComponent(id)}/messages`, { text: 'hi' });
    await gatewayRefuses(t, r, ['WARREN_ERR_SESSION_ID', 'WARREN_ERR_BAD_REQUEST', 'WARREN_ERR_NO_ROUTE'], `gateway: ${JSON.stringify(id.slice(0, 40))}`);
  }
  // argv cannot carry NUL; the rest go through the command line.
  for (const id of [ids[0]!, ids[7]!, ...ids.filter((i) => i.length > 1000 || i.includes('\u202e'))]) {
    oneLineError(t, await warren(['chat', W, '--config', cliConfig, '--session', id, 'hi']), `warren chat --session ${JSON.stringify(id.slice(0, 40))}`);
  }
  t.equal(libChannels(), libBefore, 'the library opened no channel');
  t.equal(await gatewayChannels(), gwBefore, 'the daemon opened no channel');
  t.equal(sshdLines(), sshdBefore, 'the command line never even connected');
  await noCommandRan(t);
});

t.test('workspace names: unknown everywhere, shown short, nothing opened', async (t) => {
  const names = [...METAS, 'x'.repeat(10 * 1024), UNICODE, `${W}\n`, `${W}\0`, `${W}/..`, ` ${W}`, W.toUpperCase()];
  const gwBefore = await gatewayChannels();
  const sshdBefore = sshdLines();
  for (const name of names) {
    const what = JSON.stringify(name.slice(0, 40));
    await t.rejects(broker.sendMessage(name, VALID_ID, { text: 'hi' }), { code: 'WARREN_ERR_UNKNOWN_WORKSPACE' }, `library sendMessage: ${what}`);
    await t.rejects(broker.createSession(name), { code: 'WARREN_ERR_UNKNOWN_WORKSPACE' }, `library createSession: ${what}`);
    for (const [method, path] of [['GET', 'sessions'], ['POST', 'sessions'], ['POST', `sessions/${VALID_ID}/messages`], ['GET', 'opencode/global/health']] as const) {
      const r = await fetch(`${d.base}/v1/workspaces/${encodeURIComponent(name)}/${path}`, { method, headers: d.headers({ 'content-type': 'application/json' }), ...(method === 'POST' ? { body: '{"text":"hi"}' } : {}) });
      await gatewayRefuses(t, r, ['WARREN_ERR_UNKNOWN_WORKSPACE', 'WARREN_ERR_BAD_REQUEST'], `gateway ${method} ${path}: ${what}`);
    }
  }
  for (const name of [names[0]!, 'x'.repeat(10 * 1024), UNICODE]) {
    const r = await warren(['chat', name, '--config', cliConfig, 'hi']);
    oneLineError(t, r, `warren chat ${JSON.stringify(name.slice(0, 40))}`);
    t.ok(r.stderr.length < 400, 'a long name is shown shortened');
  }
  oneLineError(t, await warren(['sessions', names[1]!, '--config', cliConfig]), 'warren sessions');
  t.equal(await gatewayChannels(), gwBefore, 'the daemon opened no channel');
  t.equal(sshdLines(), sshdBefore, 'the command line never connected');
  await noCommandRan(t);
});

t.test('session directories: impossible ones refused before anything is sent', async (t) => {
  const bad = ['relative/dir', `$(touch ${CANARIES[0]})`, '~/projects', '', `/tmp/a\0b`, `/${'d'.repeat(10 * 1024)}`, `/tmp/${'n'.repeat(256)}`];
  const gwBefore = await gatewayChannels();
  const libBefore = libChannels();
  const sshdBefore = sshdLines();
  for (const dir of bad) {
    const what = JSON.stringify(dir.slice(0, 40));
    await t.rejects(broker.createSession(W, { directory: dir }), { code: 'WARREN_ERR_BAD_REQUEST', exitCode: 2, message: /^the session directory / }, `library: ${what}`);
    await gatewayRefuses(t, await post(`/v1/workspaces/${W}/sessions`, { directory: dir }), ['WARREN_ERR_BAD_REQUEST'], `gateway: ${what}`);
  }
  for (const dir of [bad[1]!, bad[5]!]) oneLineError(t, await warren(['chat', W, '--config', cliConfig, '--directory', dir, 'hi']), `warren chat --directory ${JSON.stringify(dir.slice(0, 40))}`);
  t.equal(libChannels(), libBefore, 'the library opened no channel');
  t.equal(await gatewayChannels(), gwBefore, 'the daemon opened no channel');
  t.equal(sshdLines(), sshdBefore, 'the command line never connected');
  await noCommandRan(t);
});

t.test('session directories with metacharacters, line breaks and unicode are used exactly as named', async (t) => {
  const base = `${ws.home}/projects`;
  const dirs = [`${base}/$(touch ${CANARIES[0]})`, `${base}/a;touch $HOME/warren-canary | \`touch ${CANARIES[0]}\` && *`, `${base}/it's "q"\nnew line ${UNICODE}`];
  const mk = await ws.runAsUser(['mkdir', '-p', ...dirs]);
  t.equal(mk.code, 0, mk.stderr);
  const title = METAS.join(' ');
  for (const [i, dir] of dirs.entries()) {
    const what = JSON.stringify(dir.slice(base.length));
    const lib = await broker.createSession(W, { directory: dir, title });
    t.equal(lib.directory, dir, `library: the directory as given: ${what}`);
    t.equal(lib.title, title, 'and the title');
    // A reply in a new directory costs opencode an instance per server: one door each is enough.
    if (i === 0) t.equal((await broker.sendMessage(W, lib.id, { text: `in ${dir}` })).text, reply(`in ${dir}`), `library: a reply in ${what}`);
    const res = await post(`/v1/workspaces/${W}/sessions`, { directory: dir, title });
    t.equal(res.status, 201, `gateway: created in ${what}`);
    const gw = await res.json() as { id: string; directory: string; title: string };
    t.same([gw.directory, gw.title], [dir, title], 'gateway: directory and title as given');
    const events = await readEvents(await post(`/v1/workspaces/${W}/sessions/${gw.id}/messages`, { text: `in ${dir}` }));
    t.same(ending(events), { event: 'done', data: { sessionID: gw.id, text: reply(`in ${dir}`) } }, `gateway: a reply in ${what}`);
    if (i === 1) {
      const r = await warren(['chat', W, '--config', cliConfig, '--directory', dir, '--', `in ${dir}`]);
      t.equal(r.code, 0, r.stderr);
      t.equal(r.stdout, `${reply(`in ${dir}`)}\n`, `warren chat: a reply in ${what}`);
    }
  }
  await noCommandRan(t);
});

t.test('message text round-trips exactly through every door', async (t) => {
  const texts = [`${METAS.join(' ')}\nline two\r\n\ttabbed\n\nafter a blank line ${UNICODE}`, `${'x'.repeat(100 * 1024)} the end`];
  const lib = await broker.createSession(W);
  const gw = await (await post(`/v1/workspaces/${W}/sessions`, {})).json() as { id: string };
  for (const text of texts) {
    const what = `${JSON.stringify(text.slice(0, 30))} (${text.length} characters)`;
    // The long one takes seconds per door on a loaded machine: the library shares all
    // but the HTTP layer with the gateway, so it gets the short ones only.
    if (text.length < 1000) {
      const deltas: string[] = [];
      const r = await broker.sendMessage(W, lib.id, { text, onDelta: (x) => deltas.push(x) });
      t.equal(r.text, reply(text), `library: ${what}`);
      t.equal(deltas.join(''), reply(text), 'library: the streamed deltas too');
    }
    const events = await readEvents(await post(`/v1/workspaces/${W}/sessions/${gw.id}/messages`, { text }));
    t.same(ending(events), { event: 'done', data: { sessionID: gw.id, text: reply(text) } }, `gateway: ${what}`);
    t.equal(events.filter((e) => e.event === 'text').map((e) => e.data.delta).join(''), reply(text), 'gateway: the text events too');
    const cli = await warren(['chat', W, '--config', cliConfig, '--session', gw.id, '--', text]);
    t.equal(cli.code, 0, cli.stderr);
    t.equal(cli.stdout, `${reply(text)}\n`, `warren chat: ${what}`);
  }
  // NUL: text never meets a shell, so both doors carry it to the model and back (argv cannot hold it).
  t.equal((await broker.sendMessage(W, lib.id, { text: 'a\0b' })).text, 'echo: a\0b', 'library: NUL round-trips');
  const nul = await readEvents(await post(`/v1/workspaces/${W}/sessions/${gw.id}/messages`, { text: 'a\0b' }));
  t.same(ending(nul), { event: 'done', data: { sessionID: gw.id, text: 'echo: a\0b' } }, 'gateway: NUL round-trips');
  for (const text of ['', '   ', '\n\t']) {
    await gatewayRefuses(t, await post(`/v1/workspaces/${W}/sessions/${gw.id}/messages`, { text }), ['WARREN_ERR_BAD_REQUEST'], `gateway: blank ${JSON.stringify(text)}`);
    oneLineError(t, await warren(['chat', W, '--config', cliConfig, '--session', gw.id, '--', text]), `warren chat: blank ${JSON.stringify(text)}`);
  }
  await gatewayRefuses(t, await post(`/v1/workspaces/${W}/sessions/${gw.id}/messages`, { text: 42 }), ['WARREN_ERR_BAD_REQUEST'], 'gateway: text not a string');
  await noCommandRan(t);
});

t.test('afterwards: the daemon is healthy and the workspace has nothing left of it', async (t) => {
  const s = await (await post(`/v1/workspaces/${W}/sessions`, {})).json() as { id: string };
  const events = await readEvents(await post(`/v1/workspaces/${W}/sessions/${s.id}/messages`, { text: 'still fine' }));
  t.same(ending(events), { event: 'done', data: { sessionID: s.id, text: 'echo: still fine' } });
  const ps = await ws.runInside(['ps', '-eo', 'args']);
  t.notMatch(ps.stdout, /touch|warren-canary/, 'no injected process in the workspace');
  await noCommandRan(t);
});
