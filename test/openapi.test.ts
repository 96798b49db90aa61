// The gateway as its OpenAPI document describes it, against a real `warren daemon`:
// the document is valid OpenAPI 3.1 (checked by @readme/openapi-parser), it is served
// at GET /v1/openapi.json, and it matches the router both ways: every route the router
// serves is documented with exactly the methods it takes, and every documented route is
// served, except those marked `x-warren-status: planned`, which must not be (so the
// mark comes off when the code comes). Also what the document promises for operators:
// /healthz without the token, and Retry-After on every 503.
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { compileErrors, validate } from '@readme/openapi-parser';
import { createWorkspaces, waitFor } from '../container/testbed/index.js';
import { WarrenError, type ErrorCode } from '../src/errors.js';
import { ERROR_CODES, openapiDocument } from '../src/gateway/openapi.js';
import { DEFAULT_RETRY_AFTER_S, RETRY_AFTER_S, STATUS_OF, sendError } from '../src/gateway/respond.js';
import { ROUTES } from '../src/gateway/server.js';
import { warrenVersion } from '../src/version.js';
import { readEvents, startDaemon } from './helpers/daemon.js';

type Obj = Record<string, any>;
const doc = openapiDocument() as Obj;
const isPlanned = (o: Obj | undefined) => o?.['x-warren-status'] === 'planned';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface Op { path: string; method: string; planned: boolean; op: Obj }
const operations: Op[] = Object.entries(doc.paths as Obj).flatMap(([path, item]) =>
  HTTP_METHODS.filter((m) => item[m]).map((m) => ({ path, method: m.toUpperCase(), planned: isPlanned(item[m]), op: item[m] })));

const [alpha] = await createWorkspaces(1, { namePrefix: 'oa' });
t.teardown(() => alpha!.close());
const d = await startDaemon(t, [alpha!]);
const A = alpha!.name;

// A value for each path parameter the document uses, to turn a template into a request.
const SAMPLE: Record<string, string> = {
  ws: A, id: 'ses_0123456789abABCDEFGHIJKLMN', messageID: 'msg_0123456789abABCDEFGHIJKLMN', requestID: 'per_0123456789abABCDEFGHIJKL', path: 'global/health',
};
const concrete = (template: string) => template.replace(/\{(\w+)\}/g, (_, name: string) => {
  if (!(name in SAMPLE)) throw new Error(`no sample value for {${name}} in ${template}: add one to SAMPLE`);
  return SAMPLE[name]!;
});

t.test('the document is valid OpenAPI 3.1', async (t) => {
  t.equal(doc.openapi, '3.1.0');
  // validate() dereferences in place: give it a copy.
  const result = await validate(structuredClone(doc) as Parameters<typeof validate>[0]);
  t.ok(result.valid, result.valid ? 'valid' : compileErrors(result));
  t.same(result.warnings, [], 'without warnings');
  // What the validator leaves alone: security requirements naming schemes that exist,
  // and the one value x-warren-status takes.
  const schemes = Object.keys(doc.components.securitySchemes as Obj);
  for (const { path, method, op } of operations) {
    t.ok(op.operationId, `${method} ${path} has an operationId`);
    for (const req of (op.security ?? doc.security) as Obj[]) for (const name of Object.keys(req)) t.ok(schemes.includes(name), `${method} ${path}: scheme ${name} is defined`);
  }
  const statuses = new Set<unknown>();
  JSON.stringify(doc, (k, v: unknown) => { if (k === 'x-warren-status') statuses.add(v); return v; });
  t.ok([...statuses].every((s) => s === 'planned'), 'x-warren-status, where it is, is only ever "planned"');
});

t.test('GET /v1/openapi.json serves it, with the token like every /v1 route', async (t) => {
  const r = await fetch(`${d.base}/v1/openapi.json`, { headers: d.headers() });
  t.equal(r.status, 200);
  t.match(r.headers.get('content-type'), /^application\/json/);
  t.same(await r.json(), JSON.parse(JSON.stringify(doc)), 'the document this module builds, as it is');
  t.equal((await fetch(`${d.base}/v1/openapi.json`)).status, 401, 'no token: 401');
  const post = await fetch(`${d.base}/v1/openapi.json`, { method: 'POST', headers: d.headers() });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET');
});

t.test('the router serves what the document says, no more and no less', async (t) => {
  const served = new Map<string, string[]>();
  for (const path of Object.keys(doc.paths as Obj)) {
    // A method no route takes: the 405's Allow lists what the route does take.
    const r = await fetch(`${d.base}${concrete(path)}`, { method: 'PROPFIND', headers: d.headers() });
    const body = await r.json() as { error: { code: string } };
    if (r.status === 405) served.set(path, r.headers.get('allow')!.split(', '));
    else if (r.status === 404 && body.error.code === 'WARREN_ERR_NO_ROUTE') served.set(path, []);
    else t.fail(`PROPFIND ${path}: ${r.status} ${JSON.stringify(body)}, neither a route's 405 nor NO_ROUTE`);
  }
  for (const [path, methods] of served) {
    const documented = operations.filter((o) => o.path === path && !o.planned).map((o) => o.method).sort();
    const planned = operations.filter((o) => o.path === path && o.planned).map((o) => o.method);
    t.same([...methods].sort(), documented, `${path}: the methods served are the ones documented (not planned)`);
    for (const m of planned) t.notOk(methods.includes(m), `${m} ${path} is planned, so not served yet (once it is, take x-warren-status: planned off it)`);
  }
  // The other way: each of the router's routes is a documented path that is not all planned.
  const built = Object.keys(doc.paths as Obj).filter((p) => operations.some((o) => o.path === p && !o.planned)).map(concrete);
  for (const [name, re] of Object.entries(ROUTES)) {
    if (name === 'anyWorkspace') continue; // the catch-all that tells an unknown workspace from an unknown route
    t.ok(built.some((p) => re.test(p)), `the router's ${name} route (${re}) is in the document`);
  }
});

t.test('HTTP Basic on the pass-through is served exactly when the document says so', async (t) => {
  const basic = `Basic ${Buffer.from(`anyone:${d.token}`).toString('base64')}`;
  const r = await fetch(`${d.base}/v1/workspaces/${A}/opencode/global/health`, { headers: { authorization: basic } });
  await r.arrayBuffer();
  const planned = isPlanned(doc.components.securitySchemes.basic as Obj);
  t.equal(r.status, planned ? 401 : 200, planned ? 'planned: not accepted yet' : 'accepted like the bearer token');
});

t.test('the message stream sends what the document says; planned parts are not sent yet', async (t) => {
  const s = await (await fetch(`${d.base}/v1/workspaces/${A}/sessions`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: '{"title":"openapi"}' })).json() as { id: string };
  const res = await fetch(`${d.base}/v1/workspaces/${A}/sessions/${s.id}/messages`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: '{"text":"described"}' });
  t.equal(res.status, 200);
  const events = await readEvents(res);
  const op = doc.paths['/v1/workspaces/{ws}/sessions/{id}/messages'].post as Obj;
  const documented = (doc.components.schemas.RunEvent.oneOf as Array<{ $ref: string }>).map((r) => doc.components.schemas[r.$ref.split('/').pop()!] as Obj);
  const names = documented.map((e) => e.properties.event.const as string);
  t.ok(events.every((e) => names.includes(e.event)), `only documented events: ${events.map((e) => e.event).join(' ')}`);
  t.match(events.at(-1), { event: 'done', data: { sessionID: s.id, messageID: /^msg_/, text: 'echo: described' } }, 'ending with done');
  const seen = {
    Location: res.headers.get('location') !== null,
    'the accepted event': events[0]?.event === 'accepted',
    'id: on every event': events.length > 0 && events.every((e, i) => e.id === String(i + 1)),
  };
  const marked = {
    Location: isPlanned(op.responses[200].headers.Location as Obj),
    'the accepted event': isPlanned(doc.components.schemas.AcceptedEvent as Obj),
    'id: on every event': isPlanned(doc.components.schemas.EventId as Obj),
  };
  for (const [what, sent] of Object.entries(seen)) {
    t.equal(sent, !marked[what as keyof typeof marked], `${what}: ${sent ? 'sent' : 'not sent'}, and the document ${marked[what as keyof typeof marked] ? 'marks it planned' : 'promises it'}`);
  }
  // Resuming as the document says: GET the Location with Last-Event-ID, and only what came after.
  const location = res.headers.get('location');
  if (location && events.length > 2) {
    const again = await fetch(`${d.base}${location}`, { headers: d.headers({ 'last-event-id': '1' }) });
    t.equal(again.status, 200);
    t.same((await readEvents(again)).map((e) => [e.id, e.event]), events.slice(1).map((e) => [e.id, e.event]), 'GET Location with Last-Event-ID: 1 replays events 2..n');
  }
});

t.test('the documented error codes and statuses are the gateway\'s', async (t) => {
  for (const [code, status] of Object.entries(STATUS_OF) as Array<[ErrorCode, number]>) {
    t.ok(ERROR_CODES[status]?.includes(code), `${code} is documented under ${status}`);
  }
  for (const [status, codes] of Object.entries(ERROR_CODES)) {
    if (status === '405') continue; // the router's own answer, checked above by its Allow
    for (const code of codes) t.equal(STATUS_OF[code], Number(status), `${code} is answered with ${status}`);
  }
});

t.test('GET /healthz: 200 without a token, saying nothing else; any other method 405', async (t) => {
  for (const headers of [{}, { authorization: 'Bearer wrong' }, d.headers()]) {
    const r = await fetch(`${d.base}/healthz`, { headers });
    t.equal(r.status, 200, JSON.stringify(headers));
    t.match(r.headers.get('content-type'), /^application\/json/);
    const text = await r.text();
    t.equal(text, '{"ok":true}', 'the body says only that it answers');
    t.notMatch(text + JSON.stringify([...r.headers]), new RegExp(`${A}|${warrenVersion().replace(/\./g, '\\.')}`), 'no workspace and no version anywhere in the answer');
  }
  t.equal((await fetch(`${d.base}/healthz?probe=1`)).status, 200, 'a query string changes nothing');
  for (const method of ['HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND']) {
    const r = await fetch(`${d.base}/healthz`, { method });
    t.equal(r.status, 405, method);
    t.equal(r.headers.get('allow'), 'GET');
  }
});

t.test('every 503 code gets its Retry-After, and only 503s get one', async (t) => {
  const server = http.createServer((req, res) => sendError(res, new WarrenError(decodeURIComponent(req.url!.slice(1)) as ErrorCode, 'x')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const unavailable = (Object.entries(STATUS_OF) as Array<[ErrorCode, number]>).filter(([, s]) => s === 503).map(([c]) => c);
  t.same([...unavailable].sort(), [...ERROR_CODES[503]!].sort(), 'the 503 codes are the documented ones');
  for (const code of Object.keys(STATUS_OF) as ErrorCode[]) {
    const r = await fetch(`${base}/${code}`);
    await r.arrayBuffer();
    t.equal(r.headers.get('retry-after'), r.status === 503 ? String(RETRY_AFTER_S[code] ?? DEFAULT_RETRY_AFTER_S) : null, `${code} (${r.status})`);
  }
  for (const code of unavailable) t.ok(RETRY_AFTER_S[code], `${code} has its own Retry-After`);
  t.match(doc.components.headers.RetryAfter.description, /1 for LINK_DOWN, LINK_LOST, WAIT_UP_TIMEOUT; 5 for SHUTTING_DOWN, DB_LOCKED/, 'and the document says which');
});

// Last: it takes the workspace's tunnel down for good.
t.test('a workspace whose sshd is stopped: 503 at once with Retry-After on each of its routes', async (t) => {
  await alpha!.killSshd();
  await waitFor('the tunnel to be down', async () => {
    const body = await (await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() })).json() as { workspaces: Array<{ tunnel: { state: string } }> };
    return body.workspaces[0]!.tunnel.state !== 'up';
  }, { timeoutMs: 15_000 });
  const json = d.headers({ 'content-type': 'application/json' });
  for (const [method, path, body] of [
    ['GET', `/v1/workspaces/${A}/sessions`, undefined],
    ['POST', `/v1/workspaces/${A}/sessions`, '{}'],
    ['POST', `/v1/workspaces/${A}/sessions/ses_0123456789abABCDEFGHIJKLMN/messages`, '{"text":"anyone?"}'],
    ['GET', `/v1/workspaces/${A}/opencode/global/health`, undefined],
  ] as const) {
    const started = Date.now();
    const r = await fetch(`${d.base}${path}`, { method, headers: json, ...(body ? { body } : {}) });
    const ms = Date.now() - started;
    t.equal(r.status, 503, `${method} ${path}`);
    t.equal(r.headers.get('retry-after'), '1', 'Retry-After: 1');
    t.match(await r.json(), { error: { code: 'WARREN_ERR_LINK_DOWN' } });
    t.ok(ms < 2000, `at once, in ${ms} ms`);
  }
  t.equal((await fetch(`${d.base}/healthz`)).status, 200, '/healthz is the gateway\'s health, not a workspace\'s');
});
