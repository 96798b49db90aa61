// What the agents cost (issue 17), against a real opencode with the fake model
// reporting the usage each prompt asks for: messages sent through warren's gateway and
// through the CLI inside the workspace both count; every figure equals the sum over
// the same sessions' `opencode export`; a window leaves older messages out; the daemon
// answers through `warren usage`, the gateway, the metrics and status alike; bad
// words are exit 2 and 400.
import t, { type Test } from 'tap';
import { createWorkspace, run, waitFor } from '../container/testbed/index.js';
import { startDaemon, readEvents, ending } from './helpers/daemon.js';
import { configFile } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'usage' });
t.teardown(() => ws.close());
const main = 'dist/src/cli/main.js';
// A second workspace whose sshd is not there: its error must not hide the first's rows.
const dead = { name: 'dead', host: ws.host, port: 1, user: ws.user, privateKeyPath: ws.privateKeyPath, hostKeyFingerprint: ws.hostKeyFingerprint };
// Today's usage read in the background every second (the daemon's default is a minute).
const d = await startDaemon(t, [ws, dead], { waitUp: [ws.name], env: { WARREN_USAGE_REFRESH_MS: '1000' } });

interface Tokens { input: number; output: number; reasoning: number; cacheRead: number; cacheWrite: number }
interface Row { workspace: string; key: string; messages: number; tokens: Tokens; cost: number }
interface Report { since: string; rows: Row[] }
interface Exported { info: { id: string; role: string; sessionID: string; providerID?: string; modelID?: string; time: { created: number }; cost?: number; tokens?: { input: number; output: number; reasoning: number; cache: { read: number; write: number } } } }

/** Every assistant message of the sessions, as `opencode export` inside the workspace has them. */
async function exported(ids: string[]): Promise<Exported['info'][]> {
  const out: Exported['info'][] = [];
  for (const id of ids) {
    const r = await ws.runAsUser(['opencode', 'export', id], { timeoutMs: 60_000 });
    const data = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { messages: Exported[] };
    out.push(...data.messages.map((m) => m.info).filter((m) => m.role === 'assistant'));
  }
  return out;
}

/** The rows the export gives for a window and grouping, in the shape warren answers. */
function expected(msgs: Exported['info'][], since: number, key: (m: Exported['info']) => string): Map<string, Omit<Row, 'workspace' | 'key'>> {
  const rows = new Map<string, Omit<Row, 'workspace' | 'key'>>();
  for (const m of msgs) {
    if (m.time.created < since) continue;
    const k = key(m);
    const r = rows.get(k) ?? { messages: 0, tokens: { input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0 }, cost: 0 };
    r.messages++;
    r.tokens.input += m.tokens!.input; r.tokens.output += m.tokens!.output; r.tokens.reasoning += m.tokens!.reasoning;
    r.tokens.cacheRead += m.tokens!.cache.read; r.tokens.cacheWrite += m.tokens!.cache.write;
    r.cost += m.cost ?? 0;
    rows.set(k, r);
  }
  return rows;
}

function sameRows(t: Test, got: Row[], want: Map<string, Omit<Row, 'workspace' | 'key'>>, what: string): void {
  t.same(got.map((r) => r.key).sort(), [...want.keys()].sort(), `${what}: one row per key`);
  for (const r of got) {
    const w = want.get(r.key);
    if (!w) continue;
    t.equal(r.workspace, ws.name);
    t.same({ messages: r.messages, tokens: r.tokens }, { messages: w.messages, tokens: w.tokens }, `${what} ${r.key}: messages and tokens`);
    t.ok(Math.abs(r.cost - w.cost) < 1e-12, `${what} ${r.key}: cost ${r.cost} is the export's ${w.cost}`);
  }
}

async function gatewayUsage(query: string): Promise<{ status: number; body: Report & { error?: { code: string; message: string } } }> {
  const r = await fetch(`${d.base}/v1/workspaces/${ws.name}/usage${query}`, { headers: d.headers() });
  return { status: r.status, body: await r.json() as Report & { error?: { code: string; message: string } } };
}

async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return run([process.execPath, main, 'usage', ...args], { timeoutMs: 120_000 });
}

async function send(session: string | null, text: string): Promise<string> {
  const id = session ?? ((await (await fetch(`${d.base}/v1/workspaces/${ws.name}/sessions`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: '{}' })).json()) as { id: string }).id;
  const res = await fetch(`${d.base}/v1/workspaces/${ws.name}/sessions/${id}/messages`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ text }) });
  const last = ending(await readEvents(res));
  if (last.event !== 'done') throw new Error(`the message ended with ${JSON.stringify(last)}`);
  return id;
}

// Through warren: session A, two messages with different usage, a moment apart.
const a = await send(null, '[[fake:usage=1000,200,50,300]] the first question');
const between = Date.now();
await send(a, '[[fake:usage=40,30,0,10]] the second question');
// Through the CLI inside the workspace, on the other model.
const cliRun = await ws.runAsUser(['sh', '-c', 'mkdir -p ~/cliproj && cd ~/cliproj && opencode run --format json -m fake/fake-model-b "$1"', 'cli', '[[fake:usage=7,5,2,1]] from the cli'], { timeoutMs: 90_000 });
if (cliRun.code !== 0) throw new Error(`opencode run failed: ${cliRun.stderr.slice(-300)}`);
const b = JSON.parse(cliRun.stdout.split('\n').find((l) => l.includes('"sessionID"'))!).sessionID as string;
const msgs = await exported([a, b]);

t.test('the fake model\'s usage reaches opencode\'s history: every kind and a cost to add up', async (t) => {
  const first = msgs.find((m) => m.sessionID === a && m.tokens!.cache.read === 300);
  t.ok(first, 'the cached tokens are recorded');
  t.ok(first!.tokens!.reasoning > 0, 'and the reasoning ones');
  t.ok(msgs.every((m) => (m.cost ?? 0) > 0), 'every message has a cost from the model\'s price');
  t.same(new Set(msgs.map((m) => `${m.providerID}/${m.modelID}`)), new Set(['fake/fake-model', 'fake/fake-model-b']));
});

t.test('warren usage through the daemon: per session, model, day and workspace, the export\'s sums', async (t) => {
  for (const [by, key] of [
    ['session', (m: Exported['info']) => m.sessionID],
    ['model', (m: Exported['info']) => `${m.providerID}/${m.modelID}`],
    ['day', (m: Exported['info']) => new Date(m.time.created).toISOString().slice(0, 10)],
  ] as const) {
    const r = await cli([ws.name, '--socket', d.socket, '--by', by, '--json']);
    t.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    t.ok(Math.abs(Date.parse(report.since) - (Date.now() - 86_400_000)) < 120_000, 'the default window is the last 24 hours');
    sameRows(t, report.rows, expected(msgs, 0, key), `by ${by}`);
  }
  const started = Date.now();
  const r = await cli(['--socket', d.socket, '--json']);
  t.equal(r.code, 1, 'a workspace that cannot be read: exit 1');
  sameRows(t, (JSON.parse(r.stdout) as Report).rows, expected(msgs, 0, () => ws.name), 'every workspace that can be read, one row each');
  t.match(r.stderr, /^warren: dead: cannot connect to workspace dead .*\n$/, 'and one line for the one that cannot');
  t.ok(Date.now() - started < 20_000, `refused: at once (${Date.now() - started} ms), not after the link's 30 s wait`);
  const one = await cli(['dead', '--socket', d.socket]);
  t.equal(one.code, 1);
  t.equal(one.stdout, '', 'named alone: no table');
  t.match(one.stderr, /^warren: cannot connect to workspace dead .*\n$/);
  const g = await fetch(`${d.base}/v1/workspaces/dead/usage`, { headers: d.headers() });
  t.equal(g.status, 503, 'the gateway: 503 at once for a tunnel that is down');
  t.equal((await g.json() as { error: { code: string } }).error.code, 'WARREN_ERR_LINK_DOWN');
});

t.test('a window leaves the older messages out', async (t) => {
  const since = new Date(between).toISOString();
  const r = await cli([ws.name, '--socket', d.socket, '--since', since, '--by', 'session', '--json']);
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  t.equal(report.since, since);
  const want = expected(msgs, between, (m) => m.sessionID);
  t.equal(want.get(a)?.messages, 1, 'one of session A\'s two replies is in the window');
  sameRows(t, report.rows, want, 'since the second question');
  const later = await cli([ws.name, '--socket', d.socket, '--since', '1ms', '--json']);
  t.same((JSON.parse(later.stdout) as Report).rows.map((x) => x.messages), [0], 'a window with nothing in it: the workspace\'s row, zeros');
});

t.test('the gateway answers the same object; the OpenAPI document has the route', async (t) => {
  const g = await gatewayUsage('?by=model&since=24h');
  t.equal(g.status, 200);
  sameRows(t, g.body.rows, expected(msgs, 0, (m) => `${m.providerID}/${m.modelID}`), 'gateway by model');
  const doc = await (await fetch(`${d.base}/v1/openapi.json`, { headers: d.headers() })).json() as { paths: Record<string, { get?: Record<string, unknown> }> };
  t.ok(doc.paths['/v1/workspaces/{ws}/usage']?.get, 'documented');
  t.notOk(doc.paths['/v1/workspaces/{ws}/usage']?.get?.['x-warren-status'], 'and served, not planned');
});

t.test('bad words: 400 from the gateway, exit 2 and one line from the command', async (t) => {
  for (const [q, says] of [['?since=yesterday', /since must be a duration/], ['?by=user', /by must be session, model or day/], ['?since=-5h', /since must be/], ['?sort=cost', /unknown query parameter "sort"/], ['?by=day&by=model', /by given more than once/], ['?since=2999-01-01', /not be in the future/]] as const) {
    const g = await gatewayUsage(q);
    t.equal(g.status, 400, q);
    t.equal(g.body.error?.code, 'WARREN_ERR_BAD_REQUEST', q);
    t.match(g.body.error?.message, says, q);
  }
  t.equal((await fetch(`${d.base}/v1/workspaces/nope/usage`, { headers: d.headers() })).status, 404, 'an unknown workspace is a 404');
  for (const [args, says] of [
    [['--since', '1 day'], /^warren: since must be a duration like "24h" or "7d"/],
    [['--by', 'user'], /^warren: by must be session, model or day/],
    [['--config', 'x.json', '--socket', 'y.sock'], /^warren: --config reads the workspaces here, --socket asks the daemon: give one/],
    [['nope', '--socket', d.socket], /^warren: no workspace "nope" is configured/],
  ] as const) {
    const r = await cli([...args]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, says, args.join(' '));
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    t.equal(r.stdout, '');
  }
});

t.test('the table fits 80 columns', async (t) => {
  for (const by of ['session', 'model', 'day'] as const) {
    const r = await cli([ws.name, '--socket', d.socket, '--by', by]);
    t.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    for (const l of lines) t.ok(l.length <= 80, `${l.length} columns: ${l}`);
    t.match(r.stdout, /^since \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\n\nusage:\n/);
    if (by === 'session') t.match(r.stdout, new RegExp(`^${a} +2 +${expected(msgs, 0, (m) => m.sessionID).get(a)!.tokens.input} `, 'm'), 'session A: two messages and its input tokens');
  }
  const byModel = await cli([ws.name, '--socket', d.socket, '--by', 'model']);
  t.match(byModel.stdout, /^MODEL +MSGS +INPUT +OUTPUT +REASON +CREAD +CWRITE +COST$/m);
  t.match(byModel.stdout, /^TOTAL +3 /m, 'a total under more than one row');
});

t.test('metrics count every message read, by model and kind; status shows today\'s', async (t) => {
  const text = await (await fetch(`${d.base}/metrics`, { headers: d.headers() })).text();
  for (const [model, row] of expected(msgs, 0, (m) => `${m.providerID}/${m.modelID}`)) {
    const l = `workspace="${ws.name}",model="${model}"`;
    t.match(text, new RegExp(`^warren_opencode_tokens_total\\{${l},kind="input"\\} ${row.tokens.input}$`, 'm'), `${model} input`);
    t.match(text, new RegExp(`^warren_opencode_tokens_total\\{${l},kind="cache_read"\\} ${row.tokens.cacheRead}$`, 'm'), `${model} cache read`);
    t.match(text, new RegExp(`^warren_opencode_assistant_messages_total\\{${l}\\} ${row.messages}$`, 'm'), `${model} messages`);
    const cost = Number(new RegExp(`^warren_opencode_cost_usd_total\\{${l}\\} (\\S+)$`, 'm').exec(text)?.[1]);
    t.ok(Math.abs(cost - row.cost) < 1e-12, `${model} cost ${cost}`);
  }
  const st = await run([process.execPath, main, 'status', '--json', '--socket', d.socket], { timeoutMs: 30_000 });
  const w = (JSON.parse(st.stdout) as { workspaces: Array<{ usage: { since: string; messages: number; tokens: Tokens; asOf: string | null } }> }).workspaces[0]!;
  const today = Date.parse(w.usage.since);
  t.equal(today % 86_400_000, 0, 'today begins at UTC midnight');
  t.ok(w.usage.asOf, 'read');
  const want = expected(msgs, today, () => 'all').get('all');
  t.same({ messages: w.usage.messages, tokens: w.usage.tokens }, { messages: want?.messages ?? 0, tokens: want?.tokens ?? { input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0 } });
  const table = await run([process.execPath, main, 'status', '--socket', d.socket], { timeoutMs: 30_000 });
  t.match(table.stdout, /TODAY/);
});

t.test('without a daemon (--config): the workspace read here, the same figures', async (t) => {
  const cfg = configFile(t, [ws]);
  const r = await cli([ws.name, '--config', cfg, '--by', 'session', '--json']);
  t.equal(r.code, 0, r.stderr);
  sameRows(t, (JSON.parse(r.stdout) as Report).rows, expected(msgs, 0, (m) => m.sessionID), 'read here');
});

t.test('a message made with the CLI inside the workspace reaches status and the metrics without a usage request', async (t) => {
  const status = async () => (JSON.parse((await run([process.execPath, main, 'status', '--json', '--socket', d.socket], { timeoutMs: 30_000 })).stdout) as { workspaces: Array<{ usage: { messages: number; tokens: Tokens } }> }).workspaces[0]!.usage;
  const before = await status();
  const r = await ws.runAsUser(['sh', '-c', 'cd ~/cliproj && opencode run -m fake/fake-model-b "$1"', 'cli', '[[fake:usage=9,8,0,0]] behind warren\'s back'], { timeoutMs: 90_000 });
  t.equal(r.code, 0, r.stderr.slice(-300));
  // The server runs (the requests above started it): the daemon's background read finds it.
  // A read may meet the reply while opencode is still writing it (counted, no tokens yet);
  // the read after its end has them.
  await waitFor('status to count the new reply and its tokens', async () => {
    const now = await status();
    return now.messages === before.messages + 1 && now.tokens.output === before.tokens.output + 8;
  }, { timeoutMs: 30_000, intervalMs: 250 });
  t.pass('its output tokens are today\'s');
  const text = await (await fetch(`${d.base}/metrics`, { headers: d.headers() })).text();
  const m = new RegExp(`^warren_opencode_assistant_messages_total\\{workspace="${ws.name}",model="fake/fake-model-b"\\} (\\d+)$`, 'm').exec(text);
  t.equal(Number(m?.[1]), expected(msgs, 0, (x) => `${x.providerID}/${x.modelID}`).get('fake/fake-model-b')!.messages + 1, 'and the counter');
});
