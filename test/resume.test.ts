// Resuming any session, the reason warren exists: sessions created by the
// interactive CLI in another project directory (the hang) or in another data
// directory (unknown to the server) resume and complete; bad ids never run.
import t from 'tap';
import fs from 'node:fs';
import { request } from 'undici';
import { createWorkspace, run } from '../container/testbed/index.js';
import { cliSession, configFile, historyOf, runtimeFor } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'resume' });
t.teardown(() => ws.close());
const projectB = `${ws.home}/projects/beta`;

t.test('a CLI session in another project directory resumes and completes (the hang)', async (t) => {
  const id = await cliSession(ws, projectB, 'made by the interactive CLI');
  const rt = runtimeFor(t, ws);
  await rt.link.waitForUp(10_000);
  await rt.server.ensureRunning();

  // The bug, shown: a subscription without the session's directory sees none of its events.
  const naive = await request(`${rt.server.baseUrl}/event`, { dispatcher: rt.server.dispatcher, headers: { authorization: rt.server.authorization() } });
  let naiveText = '';
  naive.body.on('data', (d: Buffer) => { naiveText += d.toString(); });
  naive.body.on('error', () => {});
  t.teardown(() => naive.body.destroy());

  const deltas: string[] = [];
  const result = await rt.chat(id, { text: 'resumed through warren', onDelta: (d) => deltas.push(d), deadlineMs: 60_000 });
  t.equal(result.text, 'echo: resumed through warren', 'the complete reply');
  t.equal(deltas.join(''), result.text, 'streamed as it arrived, nothing repeated');
  t.equal(result.imported, false);
  t.notMatch(naiveText, id, 'a subscription without the directory saw nothing of this session: that is the hang');

  const history = await historyOf(ws, id);
  t.same(history.map((m) => m.role), ['user', 'assistant', 'user', 'assistant'], 'the history holds both exchanges, in order');
  t.equal(history.filter((m) => m.text === 'resumed through warren').length, 1, 'our message exactly once');
  t.equal(history.at(-1)?.text, 'echo: resumed through warren');
});

t.test('a CLI session in another data directory is imported and resumes with its history', async (t) => {
  const otherData = `${ws.home}/other-data`;
  const id = await cliSession(ws, `${ws.home}/projects/gamma`, 'kept in another database', { XDG_DATA_HOME: otherData });
  const rt = runtimeFor(t, ws, { importFrom: [otherData] });
  await rt.link.waitForUp(10_000);
  const result = await rt.chat(id, { text: 'after the import', deadlineMs: 60_000 });
  t.equal(result.imported, true, 'it was imported');
  t.equal(result.text, 'echo: after the import');
  const history = await historyOf(ws, id);
  t.equal(history.length, 4, 'the old exchange came along');
  t.match(history[0]?.text, 'kept in another database');
});

t.test('an id that exists nowhere fails fast and says where it looked', async (t) => {
  const rt = runtimeFor(t, ws, { importFrom: [`${ws.home}/nowhere`] });
  await rt.link.waitForUp(10_000);
  await rt.server.ensureRunning();
  const started = Date.now();
  await t.rejects(rt.chat('ses_0123456789abABCDEFGHIJKLMN', { text: 'hello?' }), {
    code: 'WARREN_ERR_SESSION_NOT_FOUND',
    message: /session ses_0123456789abABCDEFGHIJKLMN not found in workspace resume \(searched: the server's database, .*nowhere, ~\/\.local\/share\)/,
  });
  // Fast means no wait at all: nothing here may sit out the 30 s reconnect wait or the
  // 60 s prepare window. The bound is that, not a speed goal (bench/ has those).
  t.ok(Date.now() - started < 20_000, `without waiting out any timeout (${Date.now() - started} ms)`);
});

t.test('an id with shell metacharacters is refused before anything runs in the workspace', async (t) => {
  const rt = runtimeFor(t, ws);
  await rt.link.waitForUp(10_000);
  const marker = `/tmp/warren-injected-${process.pid}`;
  for (const id of [`ses_$(touch ${marker})`, `ses_\`touch ${marker}\``, 'ses_x; touch /tmp/x', `ses_${'a'.repeat(26)}\nrm -rf ~`, '../../etc/passwd', '']) {
    await t.rejects(rt.chat(id, { text: 'x' }), { code: 'WARREN_ERR_SESSION_ID', exitCode: 2 }, JSON.stringify(id));
  }
  t.equal(rt.link.snapshot().channelsOpened, 0, 'no channel, no exec: nothing ran');
  t.notOk(fs.existsSync(marker), 'no side effect');
  const cli = await run([process.execPath, 'dist/src/cli/main.js', 'chat', ws.name, '--config', configFile(t, [ws]), '--session', `ses_$(touch ${marker})`, 'hi']);
  t.equal(cli.code, 2, 'the command line exits 2');
  t.match(cli.stderr, /^warren: "ses_\$\(touch .*\)" is not an OpenCode session id/);
  t.notOk(fs.existsSync(marker));
});

t.test('warren sessions lists the sessions of every directory and data directory', async (t) => {
  const otherData = `${ws.home}/other-data-2`;
  // Side by side, as three terminals would: the sessions are the setup, not the test.
  const [a, b, c] = await Promise.all([
    cliSession(ws, `${ws.home}/projects/one`, 'in one'),
    cliSession(ws, `${ws.home}/projects/two`, 'in two'),
    cliSession(ws, `${ws.home}/projects/three`, 'elsewhere', { XDG_DATA_HOME: otherData }),
  ]);
  const cfg = configFile(t, [ws], { [ws.name]: { importFrom: [otherData] } });
  const r = await run([process.execPath, 'dist/src/cli/main.js', 'sessions', ws.name, '--json', '--config', cfg], { timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Array<{ id: string; directory: string; source: string; title: string; updated: string }>;
  const byId = new Map(rows.map((row) => [row.id, row]));
  t.match(byId.get(a), { directory: `${ws.home}/projects/one`, source: 'server' });
  t.match(byId.get(b), { directory: `${ws.home}/projects/two`, source: 'server' });
  t.match(byId.get(c), { directory: `${ws.home}/projects/three`, source: otherData });
  t.ok(rows.every((row) => row.title && !Number.isNaN(Date.parse(row.updated))), 'every row has a title and a time');
  const table = await run([process.execPath, 'dist/src/cli/main.js', 'sessions', ws.name, '--config', cfg], { timeoutMs: 60_000 });
  t.match(table.stdout, /^ID +UPDATED +DIRECTORY +TITLE +SOURCE$/m);
  t.match(table.stdout, a);
});
