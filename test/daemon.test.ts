// The daemon as operators run it: files only its user can use, a generated token,
// status over the control socket, SIGHUP adding and removing workspaces without
// disturbing a live stream elsewhere, and SIGTERM leaving nothing running.
import t from 'tap';
import fs from 'node:fs';
import { createWorkspaces, run, waitFor } from '../container/testbed/index.js';
import { ending, readEvents, startDaemon } from './helpers/daemon.js';

const [one, two, three] = await createWorkspaces(3, { namePrefix: 'dm' });
t.teardown(() => Promise.all([one!.close(), two!.close(), three!.close()]));
const warren = (...args: string[]) => run([process.execPath, 'dist/src/cli/main.js', ...args], { timeoutMs: 30_000 });
const serversOf = async (ws: typeof one) => (await ws!.runAsUser(['pgrep', '-c', '-u', ws!.user, '-f', 'opencode serve'])).stdout.trim();

t.test('a generated token, and socket and token files only the daemon user can use', async (t) => {
  const d = await startDaemon(t, [one!], { token: null });
  const tokenFile = `${d.dir}/token`;
  t.equal(fs.statSync(tokenFile).mode & 0o777, 0o600, 'token file 0600');
  t.equal(fs.statSync(d.socket).mode & 0o777, 0o600, 'control socket 0600');
  t.match(d.log(), /generated a gateway token/);
  t.match(d.log(), tokenFile, 'the log names the file');
  t.notMatch(d.log(), d.token!, 'never the token');
  const r = await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() });
  t.equal(r.status, 200, 'the generated token works');
});

t.test('warren status: JSON and table from the running daemon; a clear line without one', async (t) => {
  const d = await startDaemon(t, [one!, two!]);
  const j = await warren('status', '--json', '--socket', d.socket);
  t.equal(j.code, 0, j.stderr);
  const status = JSON.parse(j.stdout) as { workspaces: Array<Record<string, any>> };
  t.same(status.workspaces.map((w) => w.name), [one!.name, two!.name]);
  for (const w of status.workspaces) {
    t.match(w, { tunnel: { state: 'up', lastError: null }, opencode: { state: 'stopped' } });
    t.hasProps(w.tunnel, ['since', 'uptimeMs', 'keepaliveRttMs', 'openChannels', 'bytesIn', 'bytesOut', 'reconnects', 'nativeCrypto']);
    t.hasProps(w.opencode, ['version', 'port', 'starts', 'restarts', 'idleMs']);
  }
  const table = await warren('status', '-o', 'wide', '--socket', d.socket);
  t.equal(table.code, 0);
  t.match(table.stdout, /^WORKSPACE +TARGET +TUNNEL +UPTIME +RTT +CHANNELS +IN\/OUT +RECONNECTS +OPENCODE +IDLE +TODAY +LAST ERROR$/m);
  t.match(table.stdout, new RegExp(`^${one!.name} +${one!.user}@${one!.host.replace(/\./g, '\\.')}:22 +up `, 'm'));
  t.match(table.stdout, /daemon pid \d+/);
  const none = await warren('status', '--socket', `${d.dir}/nothing.sock`);
  t.equal(none.code, 1);
  t.match(none.stderr, /^warren: no warren daemon is answering on .*nothing\.sock: start one with warren daemon, or pass --socket\n$/);
});

t.test('SIGHUP adds and removes workspaces; a live stream on another is not disturbed', async (t) => {
  const d = await startDaemon(t, [one!, two!]);
  const s = await (await fetch(`${d.base}/v1/workspaces/${one!.name}/sessions`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: '{}' })).json() as { id: string };
  const prompt = `[[fake:slow=150]] ${'a reply that is still streaming during the reload '.repeat(2)}`;
  const res = await fetch(`${d.base}/v1/workspaces/${one!.name}/sessions/${s.id}/messages`, {
    method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ text: prompt }),
  });
  let streamed = 0;
  const events = readEvents(res, (e) => { if (e.event === 'text') streamed++; });
  await waitFor('the stream to be under way', () => streamed >= 2, { timeoutMs: 30_000 });
  const linkBefore = JSON.parse((await warren('status', '--json', '--socket', d.socket)).stdout).workspaces[0].tunnel.since;
  d.writeConfig([one!, three!]);
  d.child.kill('SIGHUP');
  await waitFor('the reload', () => d.log().includes('config reloaded'), { timeoutMs: 15_000 });
  const after = await (await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() })).json() as { workspaces: Array<{ name: string; tunnel: { since: string } }> };
  t.same(after.workspaces.map((w) => w.name).sort(), [one!.name, three!.name].sort(), 'two removed, three added');
  t.equal(after.workspaces.find((w) => w.name === one!.name)?.tunnel.since, linkBefore, "one's link was not touched");
  t.equal((await fetch(`${d.base}/v1/workspaces/${two!.name}/sessions`, { headers: d.headers() })).status, 404, 'two is gone');
  const all = await events;
  t.same(ending(all), { event: "done", data: { sessionID: s.id, text: `echo: ${prompt.trim()}` } }, "the stream on one finished whole");
  t.notOk(all.some((e) => e.event === 'error'));
  await waitFor('three up', async () => {
    const r = await (await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() })).json() as { workspaces: Array<{ name: string; tunnel: { state: string } }> };
    return r.workspaces.find((w) => w.name === three!.name)?.tunnel.state === 'up';
  }, { timeoutMs: 15_000 });
  t.pass("three's tunnel came up");
  fs.writeFileSync(d.configPath, '{ this is not json');
  d.child.kill('SIGHUP');
  await waitFor('the failed reload', () => d.log().includes('reload failed; the running config stays'), { timeoutMs: 15_000 });
  t.equal((await fetch(`${d.base}/v1/workspaces/${one!.name}/sessions`, { headers: d.headers() })).status, 200, 'a bad config on reload changes nothing');
});

t.test('SIGTERM drains: open streams end with an error event, servers stop, exit 0, nothing left', async (t) => {
  const d = await startDaemon(t, [one!]);
  const s = await (await fetch(`${d.base}/v1/workspaces/${one!.name}/sessions`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: '{}' })).json() as { id: string };
  const res = await fetch(`${d.base}/v1/workspaces/${one!.name}/sessions/${s.id}/messages`, {
    method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ text: `[[fake:slow=300]] ${'long '.repeat(30)}` }),
  });
  let streamed = 0;
  const events = readEvents(res, (e) => { if (e.event === 'text') streamed++; });
  await waitFor('the stream to be under way', () => streamed >= 1, { timeoutMs: 30_000 });
  t.equal(await serversOf(one), '1', 'opencode runs');
  const code = await d.stop('SIGTERM');
  t.equal(code, 0, 'exit 0');
  const all = await events;
  t.match(all.at(-1), { event: 'error', data: { code: 'WARREN_ERR_SHUTTING_DOWN' } }, 'the stream ended with a clear error event');
  t.equal(await serversOf(one), '0', 'the server it ran is stopped');
  t.notOk(fs.existsSync(d.socket), 'control socket removed');
  t.match(d.log(), /warren daemon stopped/);
});

t.test('an invalid config: one line naming the key, exit 2, nothing started', async (t) => {
  const dir = fs.mkdtempSync('/tmp/warren-badcfg-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(`${dir}/c.json`, JSON.stringify({ workspaces: { a: { host: 'x', user: 'u', privateKeyPath: one!.privateKeyPath, hostKeyFingerprint: 'nope' } } }));
  const r = await warren('daemon', '--config', `${dir}/c.json`, '--socket', `${dir}/s.sock`);
  t.equal(r.code, 2);
  t.match(r.stderr, /^warren: config error at workspaces\.a\.hostKeyFingerprint: /);
  t.equal(r.stderr.trim().split('\n').length, 1);
  t.notOk(fs.existsSync(`${dir}/s.sock`), 'nothing listened');
});

t.test('--keep-servers: the next daemon adopts the server at once, without waiting for a request', async (t) => {
  const first = await startDaemon(t, [one!], { args: ['--keep-servers'] });
  const s = await (await fetch(`${first.base}/v1/workspaces/${one!.name}/sessions`, { method: 'POST', headers: first.headers({ 'content-type': 'application/json' }), body: '{}' })).json() as { id: string };
  t.ok(s.id, 'the first daemon started opencode');
  t.equal(await first.stop('SIGTERM'), 0);
  t.equal(await serversOf(one), '1', 'the server was kept');
  const second = await startDaemon(t, [one!]);
  await waitFor('the second daemon to adopt it', async () => {
    const j = JSON.parse((await warren('status', '--json', '--socket', second.socket)).stdout) as { workspaces: Array<{ opencode: { state: string; adoptions: number; starts: number } }> };
    const o = j.workspaces[0]!.opencode;
    return o.state === 'running' && o.adoptions === 1 && o.starts === 0;
  }, { timeoutMs: 15_000 });
  t.pass('running, adopted, not started twice');
  t.equal(await second.stop('SIGTERM'), 0);
  t.equal(await serversOf(one), '0', 'and stopped by the second daemon');
});

t.test('a socket directory others could write to is refused; a bad log level is a usage error', async (t) => {
  const dir = fs.mkdtempSync('/tmp/warren-opendir-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(`${dir}/sock`, { mode: 0o777 });
  fs.chmodSync(`${dir}/sock`, 0o777);
  fs.writeFileSync(`${dir}/c.json`, JSON.stringify({ workspaces: { a: { host: one!.host, user: one!.user, privateKeyPath: one!.privateKeyPath, hostKeyFingerprint: one!.hostKeyFingerprint } }, gateway: { listen: '127.0.0.1:1', token: 'a-long-enough-test-token' } }));
  const r = await warren('daemon', '--config', `${dir}/c.json`, '--socket', `${dir}/sock/warren.sock`);
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot listen for the control socket on .*: the directory .* must belong to this user \(or root\) and not be writable by others/);
  const bad = await run([process.execPath, 'dist/src/cli/main.js', 'daemon', '--config', `${dir}/c.json`], { env: { ...process.env, WARREN_LOG_LEVEL: 'loud' }, timeoutMs: 10_000 });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^warren: log level "loud" \(WARREN_LOG_LEVEL\?\) must be one of trace, debug, info, warn, error, fatal, silent\n$/);
  const badRefresh = await run([process.execPath, 'dist/src/cli/main.js', 'daemon', '--config', `${dir}/c.json`], { env: { ...process.env, WARREN_USAGE_REFRESH_MS: '5' }, timeoutMs: 10_000 });
  t.equal(badRefresh.code, 2);
  t.match(badRefresh.stderr, /^warren: WARREN_USAGE_REFRESH_MS must be 0 or a number of milliseconds from 1000, not "5"\n$/);
});
