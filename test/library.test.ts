// warren as a library: createBroker gives the daemon's capabilities in-process,
// including the SDK v2 client over the tunnel.
import t from 'tap';
import { Writable } from 'node:stream';
import { createWorkspace } from '../container/testbed/index.js';
import { createBroker, type WarrenConfig } from '../src/index.js';
import { prettyStream } from '../src/log-pretty.js';
import { workspaceConfig } from './helpers/runtime.js';

t.test('createBroker: status, a message, and the SDK client over the tunnel', async (t) => {
  const ws = await createWorkspace({ name: 'lib' });
  t.teardown(() => ws.close());
  const config: WarrenConfig = {
    workspaces: new Map([[ws.name, workspaceConfig(ws)]]), gateway: { listen: '127.0.0.1:7391', token: null, tokenFile: null, stateDir: null, allowedOrigins: [] }, logLevel: 'info', path: null,
  };
  const broker = createBroker(config);
  t.teardown(() => broker.close());
  await broker.workspace(ws.name).link.waitForUp(10_000);
  t.match(broker.status().workspaces[0], { name: ws.name, tunnel: { state: 'up' }, opencode: { state: 'stopped' } });
  const session = await broker.createSession(ws.name, { title: 'library' });
  let streamed = '';
  const r = await broker.sendMessage(ws.name, session.id, { text: 'in process', onDelta: (d) => { streamed += d; } });
  t.equal(r.text, 'echo: in process');
  t.equal(streamed, r.text);
  t.match(broker.status().workspaces[0]?.messages, { total: 1, failed: 0, inFlight: 0, durationCount: 1 });
  const client = await broker.opencodeClient(ws.name);
  const got = await client.session.get({ sessionID: session.id });
  t.equal(got.data?.title, 'library', 'the SDK answers through the tunnel');
  await t.rejects(broker.sendMessage('nope', session.id, { text: 'x' }), { code: 'WARREN_ERR_UNKNOWN_WORKSPACE' });
});

t.test('logs read well on a terminal: time, level, workspace, message, fields', async (t) => {
  let out = '';
  const sink = new Writable({ write(c, _e, cb) { out += String(c); cb(); } });
  const s = prettyStream(sink, false);
  s.write(`${JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 1, 12, 3, 4), pid: 1, ws: 'alpha', msg: 'link state', from: 'up', to: 'down' })}\n`);
  s.write('not json\n');
  await new Promise((r) => s.end(r));
  t.match(out, /^\d\d:\d\d:\d\d WARN  alpha link state from=up to=down\nnot json\n$/);
});
