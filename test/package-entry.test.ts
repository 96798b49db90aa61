// The package as an integrator gets it: everything from `import ... from 'warren'` (the
// package's own name, resolved through package.json "exports", as a dependency would be),
// nothing from src/. The surface is deliberate: a new export, or an internal one coming
// back, fails here until it is meant (and docs/integrator.md says so).
import t from 'tap';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createWorkspace } from '../container/testbed/index.js';
import * as warren from 'warren';
import {
  createBroker, validateConfig, isWarrenError, ConfigError, HostKeyFormatError, UnknownWorkspaceError, WarrenError,
  type Broker, type ErrorCode, type SendMessageOptions, type SendMessageResult, type ToolEvent, type WarrenConfig,
  type WorkspaceRuntime,
} from 'warren';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every value the entry exports that is not an error class. */
const VALUES = ['PERMISSION_REPLIES', 'createBroker', 'isWarrenError', 'loadConfig', 'parseUsageQuery', 'validateConfig', 'warrenVersion'];

t.test('the entry exports createBroker, config loading, the errors, and nothing of the layers below', async (t) => {
  const names = Object.keys(warren).sort();
  const errors = names.filter((n) => {
    const v = (warren as Record<string, unknown>)[n];
    return typeof v === 'function' && (v === WarrenError || v.prototype instanceof WarrenError);
  });
  t.same(names.filter((n) => !errors.includes(n)), VALUES, 'besides the error classes, exactly these values');
  t.ok(errors.length >= 50 && errors.every((n) => n.endsWith('Error')), `${errors.length} error classes`);
  for (const internal of ['Link', 'Broker', 'WorkspaceRuntime', 'createLinkDispatcher', 'opencodeClientOverLink', 'startLocalForward', 'quoteArg', 'quoteCommand']) {
    t.notOk(internal in warren, `${internal} is not exported`);
  }
});

t.test('another package sees the same entry, and cannot reach past it', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-consumer-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'warren'), 'dir');
  const script = `
    const m = await import('warren');
    let deep = 'imported';
    try { await import('warren/dist/src/ssh/link.js'); } catch (e) { deep = e.code; }
    console.log(JSON.stringify({ names: Object.keys(m).sort(), deep }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: dir });
  const got = JSON.parse(stdout) as { names: string[]; deep: string };
  t.same(got.names, Object.keys(warren).sort(), 'the same names as the package\'s own import');
  t.equal(got.deep, 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'a deep import of an internal module is refused');
});

t.test('the documented use: a config, a broker, a message, the SDK client, the errors', async (t) => {
  const ws = await createWorkspace({ name: 'pkg' });
  t.teardown(() => ws.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-entry-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const json = { workspaces: { [ws.name]: { host: ws.host, port: ws.port, user: ws.user, privateKeyPath: ws.privateKeyPath, hostKeyFingerprint: ws.hostKeyFingerprint } } };
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify(json));

  // A config object, as integrator.md builds one; and a broken one fails as a ConfigError.
  const config: WarrenConfig = validateConfig(json, { baseDir: dir, path: null });
  t.same([...config.workspaces.keys()], [ws.name]);
  t.throws(() => validateConfig({ workspaces: { x: { host: 'h' } } }, { baseDir: dir, path: null }), ConfigError);

  const broker: Broker = createBroker(file);
  t.teardown(() => broker.close());
  t.same(broker.names, [ws.name]);
  t.ok(broker.has(ws.name));
  const rt: WorkspaceRuntime = broker.workspace(ws.name);
  await rt.link.waitForUp(15_000);
  t.equal(rt.link.state, 'up');
  t.match(broker.status().workspaces[0], { name: ws.name, tunnel: { state: 'up' }, opencode: { state: 'stopped' } });

  const session = await broker.createSession(ws.name, { title: 'entry' });
  let streamed = '';
  const tools: ToolEvent[] = [];
  const opts: SendMessageOptions = { text: 'through the entry', onDelta: (d) => { streamed += d; }, onTool: (e) => tools.push(e) };
  const r: SendMessageResult = await broker.sendMessage(ws.name, session.id, opts);
  t.equal(r.text, 'echo: through the entry');
  t.equal(streamed, r.text, 'the deltas add up to the reply');
  t.equal(r.imported, false);
  t.ok((await broker.sessions(ws.name)).some((s) => s.id === session.id), 'sessions() lists it');

  const client = await broker.opencodeClient(ws.name);
  t.equal(rt.server.state, 'running', 'the server was started for the client');
  t.equal((await client.session.get({ sessionID: session.id })).data?.title, 'entry', 'the SDK answers through the tunnel');

  // Errors: the exported classes, with their stable codes.
  const unknown: ErrorCode = 'WARREN_ERR_UNKNOWN_WORKSPACE';
  t.throws(() => broker.workspace('nope'), UnknownWorkspaceError);
  await t.rejects(broker.sendMessage('nope', session.id, { text: 'x' }), { code: unknown });
  const err = await broker.createSession('nope').catch((e: unknown) => e);
  t.ok(isWarrenError(err) && err instanceof WarrenError && err.exitCode === 1, 'a WarrenError with its exit code');
  // A malformed pin: the config loader refuses it as a ConfigError; a config built by hand
  // gets as far as the link, which refuses it with its own code.
  const broken = path.join(dir, 'broken.json');
  fs.writeFileSync(broken, JSON.stringify({ workspaces: { [ws.name]: { ...json.workspaces[ws.name], hostKeyFingerprint: 'md5:aa:bb' } } }));
  t.throws(() => createBroker(broken), { code: 'WARREN_ERR_CONFIG', message: /hostKeyFingerprint/ });
  const byHand: WarrenConfig = { ...config, workspaces: new Map([[ws.name, { ...config.workspaces.get(ws.name)!, hostKeyFingerprints: ['md5:aa:bb'] }]]) };
  t.throws(() => createBroker(byHand), HostKeyFormatError);
  t.throws(() => createBroker(byHand), { code: 'WARREN_ERR_HOST_KEY_FORMAT', exitCode: 2 });
});
