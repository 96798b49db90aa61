// Faults around the workspace rather than in the stream: the workspace user's
// temporary directory fills up during an import, and the daemon is killed -9 and
// started again. Each ends in the complete reply or one clear error, the history
// holds every message once, and the next message works without operator action.
import t from 'tap';
import fs from 'node:fs';
import { createWorkspace, run, runOk, waitFor } from '../container/testbed/index.js';
import { callServer } from '../src/opencode/api.js';
import { readEvents, startDaemon, ending } from './helpers/daemon.js';
import { cliSession, historyOf, runtimeFor, expectNothingLeft } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'hostfaults' });
t.teardown(() => ws.close());
async function serverKnows(rt: ReturnType<typeof runtimeFor>, id: string): Promise<boolean> {
  const r = await callServer(rt.server, ws.name, `/session/${id}`, { accept: [404] });
  return r.status !== 404;
}
const serverCount = async () => Number((await ws.runAsUser(['pgrep', '-c', '-u', ws.user, '-f', 'opencode serve'])).stdout.trim());

/**
 * Runs argv as root in the mount namespace of the workspace's sshd (\`ip netns exec\`
 * gave it its own), where the commands warren runs see their files. A mount made
 * there goes away with sshd, so none can outlive the workspace.
 */
async function inSshdMounts(argv: string[]) {
  const pids = (await runOk(['ip', 'netns', 'pids', ws.netns!])).stdout.split(/\s+/).filter(Boolean);
  const sshd = pids.find((p) => { try { return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'sshd'; } catch { return false; } });
  if (!sshd) throw new Error('no sshd in the workspace');
  return runOk(['nsenter', '-t', sshd, '-m', '--', ...argv]);
}

t.test("the user's temporary directory is full: one clear error, nothing imported, and it works once there is room", async (t) => {
  const other = `${ws.home}/tmp-full`;
  const id = await cliSession(ws, `${ws.home}/projects/tmp-full`, 'before the disk filled', { XDG_DATA_HOME: other });
  const rt = runtimeFor(t, ws, { importFrom: [other] });
  await rt.link.waitForUp(10_000);
  await rt.server.ensureRunning();
  if (!ws.isolated) return t.plan(0, 'skipped: needs the netns test bed (a mount in the workspace)');
  const tmp = `${ws.dir}/small-tmp`;
  fs.mkdirSync(tmp);
  await inSshdMounts(['mount', '-t', 'tmpfs', '-o', 'size=64k,mode=1777', 'warren-test-tmp', tmp]);
  t.teardown(() => inSshdMounts(['umount', '-l', tmp]).catch(() => {}));
  // Full: dd stops at the end of the space.
  await inSshdMounts(['sh', '-c', 'dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null; true', 'fill', tmp]);
  const profile = `${ws.home}/.profile`;
  const before = fs.readFileSync(profile, 'utf8');
  fs.appendFileSync(profile, `export TMPDIR=${tmp}\n`);
  t.teardown(() => fs.writeFileSync(profile, before));
  const started = Date.now();
  await t.rejects(rt.chat(id, { text: 'while full', deadlineMs: 60_000 }), {
    code: 'WARREN_ERR_IMPORT',
    message: new RegExp(`^importing session ${id} from ${other} in workspace hostfaults failed: cannot write a temporary copy of the export in ${tmp} \\(.*No space left on device\\): free space there and send again$`),
  });
  t.ok(Date.now() - started < 30_000, `failed after ${Date.now() - started} ms`);
  t.notOk(await serverKnows(rt, id), 'nothing was imported');
  const inTmp = (await inSshdMounts(['ls', '-A', tmp])).stdout.split('\n').filter(Boolean);
  t.same(inTmp.filter((f) => f.startsWith('tmp.')), [], `no temporary file left behind (${inTmp.join(' ')})`);
  await inSshdMounts(['rm', `${tmp}/filler`]);
  const r = await rt.chat(id, { text: 'with room again', deadlineMs: 60_000 });
  t.equal(r.imported, true);
  t.equal(r.text, 'echo: with room again');
  const history = await historyOf(ws, id);
  t.same(history.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
  t.same(history.slice(2).map((m) => m.text), ['with room again', 'echo: with room again'], 'the new message once, the failed one not at all');
});

t.test('the daemon killed -9 mid-stream and started again: it adopts the server, no second one, the session goes on', async (t) => {
  const first = await startDaemon(t, [ws]);
  const post = (d: typeof first, path: string, body: unknown) => fetch(`${d.base}/v1/workspaces/${ws.name}${path}`, {
    method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify(body),
  });
  const s = await (await post(first, '/sessions', {})).json() as { id: string };
  const prompt = `[[fake:slow=150]] ${Array.from({ length: 16 }, (_, i) => `part${i}`).join(' ')}`;
  let streamed = 0;
  const cut = readEvents(await post(first, `/sessions/${s.id}/messages`, { text: prompt }), (e) => { if (e.event === 'text') streamed++; })
    .then((events) => ({ events, error: null as Error | null }), (error: Error) => ({ events: [], error }));
  await waitFor('the reply to be streaming', () => streamed >= 2, { timeoutMs: 30_000 });
  first.child.kill('SIGKILL');
  await first.stop();
  const seen = await cut;
  t.ok(seen.error || !seen.events.some((e) => e.event === 'done'), 'the caller of the killed daemon sees its stream cut, not a reply');
  t.equal(await serverCount(), 1, 'the opencode server outlived the daemon');

  const second = await startDaemon(t, [ws]);
  await waitFor('the new daemon to adopt the server', async () => {
    const r = await run([process.execPath, 'dist/src/cli/main.js', 'status', '--json', '--socket', second.socket], { timeoutMs: 30_000 });
    const o = (JSON.parse(r.stdout) as { workspaces: Array<{ opencode: { state: string; adoptions: number; starts: number } }> }).workspaces[0]!.opencode;
    return o.state === 'running' && o.adoptions === 1 && o.starts === 0;
  }, { timeoutMs: 20_000 });
  t.pass('adopted, not started');
  // Nobody aborted the interrupted run: opencode finishes it on its own.
  await waitFor('the interrupted reply to be complete in the history', async () => (await historyOf(ws, s.id)).some((m) => m.text === `echo: ${prompt}`), { timeoutMs: 60_000 });
  const started = Date.now();
  const events = await readEvents(await post(second, `/sessions/${s.id}/messages`, { text: 'after the restart' }));
  t.same(ending(events), { event: 'done', data: { sessionID: s.id, text: 'echo: after the restart' } }, 'a message on the old session works');
  t.ok(Date.now() - started < 30_000, `in ${Date.now() - started} ms`);
  t.equal(await serverCount(), 1, 'still exactly one opencode server');
  const history = await historyOf(ws, s.id);
  t.same(history.map((m) => m.text), [prompt, `echo: ${prompt}`, 'after the restart', 'echo: after the restart'], 'every message and reply once');
  t.equal(await second.stop('SIGTERM'), 0);
  t.equal(await serverCount(), 0, 'the new daemon stops the server it adopted');
});

t.test('afterwards nothing is left running, and closing leaves nothing', (t) => expectNothingLeft(t, ws));
