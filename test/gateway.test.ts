// The gateway, as the host agent uses it: auth, unknown workspaces, a tunnel that is
// down, bad requests, the message stream against a CLI-created session, and the
// official SDK through the pass-through.
import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createOpencodeClient } from '@opencode-ai/sdk/v2/client';
import { createWorkspaces, run, waitFor } from '../container/testbed/index.js';
import { cliSession, historyOf } from './helpers/runtime.js';
import { readEvents, startDaemon, ending } from './helpers/daemon.js';

const [alpha, beta] = await createWorkspaces(2, { namePrefix: 'gw' });
t.teardown(() => Promise.all([alpha!.close(), beta!.close()]));
const d = await startDaemon(t, [alpha!, beta!]);
const A = alpha!.name;

t.test('no token or a wrong one: 401, and nothing else answered', async (t) => {
  const variants: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${d.token}` }, { authorization: `Bearer ${d.token}x` }];
  for (const h of variants) {
    const r = await fetch(`${d.base}/v1/workspaces`, { headers: h });
    t.equal(r.status, 401, JSON.stringify(h));
    t.match(await r.json(), { error: { code: 'WARREN_ERR_UNAUTHORIZED' } });
  }
  t.equal((await fetch(`${d.base}/metrics`)).status, 401, 'metrics too');
});

t.test('status of each workspace, as status --json reports it', async (t) => {
  const body = await (await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() })).json() as { workspaces: Array<Record<string, unknown>> };
  t.same(body.workspaces.map((w) => w.name), [A, beta!.name]);
  t.match(body.workspaces[0], { name: A, tunnel: { state: 'up', lastError: null }, opencode: { state: 'stopped' } });
});

t.test('JSON answers to bodyless requests keep the connection open (curl reuses it)', async (t) => {
  // The token through a header file, never argv, where every local user could read it.
  const headers = path.join(d.dir, 'curl-headers');
  fs.writeFileSync(headers, `authorization: Bearer ${d.token}\n`, { mode: 0o600 });
  const urls = ['/v1/workspaces', '/v1/workspaces', '/v1/workspaces/nope/sessions', '/v1/workspaces'].map((p) => `${d.base}${p}`);
  const r = await run(['curl', '-sv', '-o', '/dev/null', '-H', `@${headers}`, ...urls], { timeoutMs: 30_000 });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr.match(/^\* Re-using existing connection/gm)?.length, 3, 'one connection for the four requests');
  t.notMatch(r.stderr, /^< connection: close/im, 'no answer closes it');
  const health = `${d.base}/v1/workspaces/${A}/opencode/global/health`;
  const through = await run(['curl', '-sv', '-o', '/dev/null', '-H', `@${headers}`, health, health], { timeoutMs: 60_000 });
  t.equal(through.code, 0, through.stderr);
  t.equal(through.stderr.match(/^< content-length: \d+/gim)?.length, 2, 'the pass-through keeps opencode\'s content-length');
  t.notMatch(through.stderr, /^< transfer-encoding: chunked/im, 'rather than re-framing the body as chunked');
  t.match(through.stderr, /^\* Re-using existing connection/m);
  const unauthorized = await run(['curl', '-sv', '-o', '/dev/null', `${d.base}/v1/workspaces`, `${d.base}/v1/workspaces`], { timeoutMs: 30_000 });
  t.equal(unauthorized.stderr.match(/^< HTTP\/1\.1 401/gm)?.length, 2);
  t.match(unauthorized.stderr, /^\* Re-using existing connection/m, 'a 401 to a bodyless GET keeps it too');
});

t.test('an unknown workspace is 404 on every route', async (t) => {
  for (const [method, path] of [['GET', '/v1/workspaces/nope/sessions'], ['POST', '/v1/workspaces/nope/sessions'], ['POST', '/v1/workspaces/nope/sessions/ses_0123456789abABCDEFGHIJKLMN/messages'], ['GET', '/v1/workspaces/nope/opencode/global/health']] as const) {
    const r = await fetch(`${d.base}${path}`, { method, headers: d.headers({ 'content-type': 'application/json' }), ...(method === 'POST' ? { body: '{"text":"x"}' } : {}) });
    t.equal(r.status, 404, `${method} ${path}`);
    t.match(await r.json(), { error: { code: 'WARREN_ERR_UNKNOWN_WORKSPACE', message: /no workspace "nope" is configured/ } });
  }
  const noRoute = await fetch(`${d.base}/v2/anything`, { headers: d.headers() });
  t.equal(noRoute.status, 404);
  t.match(await noRoute.json(), { error: { code: 'WARREN_ERR_NO_ROUTE' } });
});

t.test('bad requests: 4xx with a clear JSON error, quickly', async (t) => {
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) => fetch(`${d.base}${path}`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json', ...headers }), body });
  let r = await post(`/v1/workspaces/${A}/sessions`, '{not json');
  t.equal(r.status, 400);
  t.match(await r.json(), { error: { code: 'WARREN_ERR_BAD_REQUEST', message: /not valid JSON/ } });
  r = await post(`/v1/workspaces/${A}/sessions`, '{"directory":"relative/path"}');
  t.equal(r.status, 400);
  r = await post(`/v1/workspaces/${A}/sessions/ses_0123456789abABCDEFGHIJKLMN/messages`, '{"text":""}');
  t.equal(r.status, 400, 'empty text');
  r = await post(`/v1/workspaces/${A}/sessions/not-a-session/messages`, '{"text":"hi"}');
  t.equal(r.status, 400);
  t.match(await r.json(), { error: { code: 'WARREN_ERR_SESSION_ID' } });
  r = await post(`/v1/workspaces/${A}/sessions/ses_0123456789abABCDEFGHIJKLMN/messages`, Buffer.alloc(2 * 1024 * 1024, 'a'));
  t.equal(r.status, 413, 'a huge body');
  r = await fetch(`${d.base}/v1/workspaces`, { method: 'DELETE', headers: d.headers() });
  t.equal(r.status, 405);
  t.equal(r.headers.get('allow'), 'GET');
  // fetch would normalise the dots away; a raw request sends them as a client could.
  for (const p of [`/v1/workspaces/${A}/opencode/%2e%2e/%2e%2e/etc/passwd`, `/v1/workspaces/${A}/opencode/..%2f..%2fetc`]) {
    const raw = await rawGet(p);
    t.match(raw, /^HTTP\/1\.1 400 /, `path traversal refused: ${p}`);
  }
});

function rawGet(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(new URL(d.base).port), '127.0.0.1');
    let out = '';
    s.on('data', (c: Buffer) => { out += c.toString(); });
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.write(`GET ${path} HTTP/1.1\r\nHost: ${new URL(d.base).host}\r\nAuthorization: Bearer ${d.token}\r\nConnection: close\r\n\r\n`);
  });
}

t.test('slow headers (slowloris) are cut, and the daemon keeps answering', async (t) => {
  const port = Number(new URL(d.base).port);
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.write('GET /v1/workspaces HTTP/1.1\r\nHost: x\r\n');
  const closed = new Promise<number>((resolve) => { const t0 = Date.now(); sock.once('close', () => resolve(Date.now() - t0)); });
  sock.on('error', () => {});
  sock.resume();
  const r = await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() });
  t.equal(r.status, 200, 'others are served meanwhile');
  const after = await closed;
  t.ok(after < 20_000, `the slow connection was closed after ${after} ms`);
});

t.test('the message stream resumes a session made by the interactive CLI elsewhere', async (t) => {
  const id = await cliSession(alpha!, `${alpha!.home}/projects/elsewhere`, 'from the CLI');
  const res = await fetch(`${d.base}/v1/workspaces/${A}/sessions/${id}/messages`, {
    method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ text: 'through the gateway' }),
  });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /text\/event-stream/);
  const events = await readEvents(res);
  const deltas = events.filter((e) => e.event === 'text').map((e) => String(e.data.delta));
  const done = events.at(-1);
  t.equal(done?.event, 'done', 'ends with done');
  t.same(ending(events), { event: 'done', data: { sessionID: id, text: 'echo: through the gateway' } });
  t.equal(deltas.join(''), 'echo: through the gateway', 'text events add up to the reply');
  t.notOk(events.some((e) => e.event === 'error'));
  const history = await historyOf(alpha!, id);
  t.equal(history.filter((m) => m.text === 'through the gateway').length, 1);
});

t.test('an unknown session is a plain 404 before any stream starts', async (t) => {
  const r = await fetch(`${d.base}/v1/workspaces/${A}/sessions/ses_0123456789abABCDEFGHIJKLMN/messages`, {
    method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: '{"text":"anyone?"}',
  });
  t.equal(r.status, 404);
  t.match(await r.json(), { error: { code: 'WARREN_ERR_SESSION_NOT_FOUND' } });
});

t.test('sessions: list and create', async (t) => {
  const created = await fetch(`${d.base}/v1/workspaces/${A}/sessions`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ title: 'made over the gateway', directory: `${alpha!.home}/projects` }) });
  t.equal(created.status, 201);
  const s = await created.json() as { id: string; directory: string };
  t.equal(s.directory, `${alpha!.home}/projects`);
  const list = await (await fetch(`${d.base}/v1/workspaces/${A}/sessions`, { headers: d.headers() })).json() as { sessions: Array<{ id: string; title: string }> };
  t.ok(list.sessions.some((x) => x.id === s.id && x.title === 'made over the gateway'));
});

t.test('the official SDK v2 with the gateway as its baseUrl', async (t) => {
  const client = createOpencodeClient({ baseUrl: `${d.base}/v1/workspaces/${A}/opencode`, headers: d.headers(), directory: `${alpha!.home}/projects` });
  const health = await client.global.health();
  t.match(health.data, { healthy: true, version: '1.18.33' });
  const created = await client.session.create({ title: 'sdk through the gateway' });
  t.ok(created.data?.id);
  const got = await client.session.get({ sessionID: created.data!.id });
  t.equal(got.data?.title, 'sdk through the gateway');
  const msgs = await client.session.messages({ sessionID: created.data!.id });
  t.same(msgs.data, [], 'a new session has no messages');
});

t.test('a client that leaves a pass-through event stream releases it upstream', async (t) => {
  const streams = async () => {
    const body = await (await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() })).json() as { workspaces: Array<{ name: string; opencode: { activeStreams: number } }> };
    return body.workspaces.find((w) => w.name === A)!.opencode.activeStreams;
  };
  const ac = new AbortController();
  const res = await fetch(`${d.base}/v1/workspaces/${A}/opencode/event?directory=${encodeURIComponent(`${alpha!.home}/projects`)}`, { headers: d.headers(), signal: ac.signal });
  t.equal(res.status, 200);
  const reader = res.body!.getReader();
  t.match(Buffer.from((await reader.read()).value!).toString(), /server\.connected/, 'the stream is live');
  t.equal(await streams(), 1, 'held open while the client reads');
  ac.abort();
  await waitFor('the upstream stream to be released', async () => (await streams()) === 0, { timeoutMs: 10_000 });
  t.pass('released');
  // A pass-through that completes normally leaves nothing behind either.
  t.equal((await fetch(`${d.base}/v1/workspaces/${A}/opencode/global/health`, { headers: d.headers() })).status, 200);
  t.equal(await streams(), 0);
});

t.test('metrics count what happened', async (t) => {
  const text = await (await fetch(`${d.base}/metrics`, { headers: d.headers() })).text();
  t.match(text, new RegExp(`^warren_tunnel_up\\{workspace="${A}"\\} 1$`, 'm'));
  t.match(text, new RegExp(`^warren_messages_total\\{workspace="${A}"\\} [1-9]`, 'm'));
  t.match(text, new RegExp(`^warren_opencode_running\\{workspace="${A}"\\} 1$`, 'm'));
  t.notMatch(text, d.token!, 'no secret in metrics');
});

t.test('a workspace whose tunnel is down answers 503 at once; the other is unaffected', async (t) => {
  await beta!.killSshd();
  t.teardown(async () => { await beta!.startSshd().catch(() => {}); });
  const B = beta!.name;
  await (async () => {
    for (let i = 0; i < 200; i++) {
      const body = await (await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() })).json() as { workspaces: Array<{ name: string; tunnel: { state: string } }> };
      if (body.workspaces.find((w) => w.name === B)?.tunnel.state !== 'up') return;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const started = Date.now();
  const r = await fetch(`${d.base}/v1/workspaces/${B}/sessions`, { headers: d.headers() });
  t.equal(r.status, 503);
  t.match(await r.json(), { error: { code: 'WARREN_ERR_LINK_DOWN' } });
  t.ok(Date.now() - started < 2000, `at once, in ${Date.now() - started} ms`);
  const other = await fetch(`${d.base}/v1/workspaces/${A}/sessions`, { headers: d.headers() });
  t.equal(other.status, 200, 'alpha still works');
  const badId = await fetch(`${d.base}/v1/workspaces/${B}/sessions/bogus/messages`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: '{"text":"x"}' });
  t.equal(badId.status, 400, 'a bad session id is a bad request, tunnel or not');
});

t.test('tool events stream when the model calls a tool', async (t) => {
  const dir = `${alpha!.home}/projects/tools`;
  await alpha!.runAsUser(['sh', '-c', 'mkdir -p "$1" && echo "some notes" > "$1/notes.txt"', 'x', dir]);
  const s = await (await fetch(`${d.base}/v1/workspaces/${A}/sessions`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ directory: dir }) })).json() as { id: string };
  const text = `[[fake:tool=read:{"filePath":"${dir}/notes.txt"}]] read the notes`;
  const res = await fetch(`${d.base}/v1/workspaces/${A}/sessions/${s.id}/messages`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ text }) });
  const events = await readEvents(res);
  const tools = events.filter((e) => e.event === 'tool').map((e) => e.data);
  t.ok(tools.length > 0, 'tool events arrived');
  t.ok(tools.every((x) => x.name === 'read'), 'for the read tool');
  t.equal(tools.at(-1)?.status, 'completed', 'ending completed');
  t.same(ending(events), { event: 'done', data: { sessionID: s.id, text: `echo: ${text}` } }, 'then the reply');
});
