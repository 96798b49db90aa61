// Importing a session under faults: another process holds an OpenCode database's
// write lock (the data directory it comes from, or the server's own), or the
// workspace user's temporary directory is full. The caller gets the session or one
// clear error within a bound; nothing is half-imported; the next try succeeds
// once the fault is gone, with no operator action on warren's side.
import t from 'tap';
import { setTimeout as delay } from 'node:timers/promises';
import { createWorkspace, run, runOk, waitFor, type Workspace } from '../container/testbed/index.js';
import { callServer } from '../src/opencode/api.js';
import { cliSession, historyOf, runtimeFor } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'importfaults' });
t.teardown(() => ws.close());

/** Holds SQLite's write lock on db as the workspace user (BEGIN EXCLUSIVE), until release(). */
interface Teardown { teardown(fn: () => unknown): void }

async function holdLock(t: Teardown, w: Workspace, db: string): Promise<{ pid: number; release(): Promise<void> }> {
  const fifo = `${w.dir}/release-${Date.now()}`;
  await runOk(['mkfifo', '-m', '0666', fifo]);
  // .timeout: a checkpoint of the db's last writer must not make BEGIN fail at once.
  const holder = w.spawnAsUser(['sqlite3', db, '-cmd', '.timeout 5000', '-cmd', 'BEGIN EXCLUSIVE;', `.shell cat ${fifo} >/dev/null`]);
  let holderErr = '';
  holder.stderr!.on('data', (d: Buffer) => { holderErr += d.toString(); });
  const exited = new Promise<void>((resolve) => holder.on('close', () => resolve()));
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    // The holder's `cat` reads the FIFO: a write ends it, sqlite3 exits, the lock goes.
    await w.runAsUser(['sh', '-c', ': > "$1"', 'release', fifo], { timeoutMs: 10_000 });
    await Promise.race([exited, delay(10_000).then(() => holder.kill('SIGKILL'))]);
  };
  t.teardown(release);
  await waitFor('the lock to be held', async () => {
    const probe = await w.runAsUser(['sqlite3', db, 'BEGIN IMMEDIATE; ROLLBACK;']);
    if (holder.exitCode !== null) throw new Error(`sqlite3 exited: ${holderErr}`);
    return /database is locked/.test(probe.stderr);
  }, { timeoutMs: 15_000 }).catch((err: Error) => { throw new Error(`${err.message} (holder said: ${holderErr.trim()})`); });
  return { pid: holder.pid!, release };
}

async function serverKnows(rt: ReturnType<typeof runtimeFor>, id: string): Promise<boolean> {
  const r = await callServer(rt.server, ws.name, `/session/${id}`, { accept: [404] });
  return r.status !== 404;
}

const running = async (pattern: string) => (await run(['pgrep', '-u', ws.user, '-f', pattern])).code === 0;

t.test('the source database is locked while warren imports: it waits, and imports once the lock goes', async (t) => {
  const other = `${ws.home}/locked-source`;
  const id = await cliSession(ws, `${ws.home}/projects/src-locked`, 'before the lock', { XDG_DATA_HOME: other });
  const rt = runtimeFor(t, ws, { importFrom: [other] });
  await rt.link.waitForUp(10_000);
  await rt.server.ensureRunning();
  const lock = await holdLock(t, ws, `${other}/opencode/opencode.db`);
  const started = Date.now();
  const pending = rt.chat(id, { text: 'after the lock', deadlineMs: 60_000 });
  pending.catch(() => {});
  await waitFor('warren to be exporting', () => running('warren-export'), { timeoutMs: 20_000 });
  // The fault's length, not a wait for anything: longer than opencode's own 5 s busy
  // timeout, after which opencode alone gives up with "Failed query".
  await delay(6000);
  t.ok(await running('warren-export'), 'still waiting for the lock, not failed');
  await lock.release();
  const result = await pending;
  const took = Date.now() - started;
  t.equal(result.imported, true, 'imported');
  t.equal(result.text, 'echo: after the lock', 'the complete reply');
  t.ok(took < 40_000, `done ${took} ms after the message was sent`);
  const history = await historyOf(ws, id);
  t.same(history.map((m) => m.role), ['user', 'assistant', 'user', 'assistant'], 'the old exchange and the new one');
  t.equal(history.filter((m) => m.text === 'after the lock').length, 1, 'the new message once');
  const next = await rt.chat(id, { text: 'and again' });
  t.equal(next.imported, false, 'the next message finds it in the server');
  t.equal(next.text, 'echo: and again');
});

t.test('the source database stays locked: one clear error naming the lock, nothing imported, and the next try works', async (t) => {
  const other = `${ws.home}/stays-locked`;
  const db = `${other}/opencode/opencode.db`;
  const id = await cliSession(ws, `${ws.home}/projects/stays-locked`, 'kept elsewhere', { XDG_DATA_HOME: other });
  const rt = runtimeFor(t, ws, { importFrom: [other] });
  await rt.link.waitForUp(10_000);
  await rt.server.ensureRunning();
  const lock = await holdLock(t, ws, db);
  const started = Date.now();
  await t.rejects(rt.chat(id, { text: 'while locked', deadlineMs: 60_000 }), {
    code: 'WARREN_ERR_DB_LOCKED',
    message: new RegExp(`^cannot import session ${id} in workspace importfaults: the OpenCode database ${db} is locked by another process \\(pid ${lock.pid}, sqlite3\\) for more than 10 s; let that process finish \\(or stop it\\) and send again$`),
  });
  const took = Date.now() - started;
  t.ok(took >= 9000 && took < 40_000, `failed after ${took} ms (it waits 10 s for the lock)`);
  t.notOk(await running('warren-export'), 'no export left running');
  await lock.release();
  t.notOk(await serverKnows(rt, id), 'nothing was imported');
  const r = await rt.chat(id, { text: 'after the lock', deadlineMs: 60_000 });
  t.equal(r.imported, true);
  t.equal(r.text, 'echo: after the lock');
  const history = await historyOf(ws, id);
  t.same(history.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
  t.same(history.slice(2).map((m) => m.text), ['after the lock', 'echo: after the lock'], 'the new message once, the failed one not at all');
});

t.test('afterwards nothing is left running, and closing leaves nothing', async (t) => {
  await waitFor('no live process of the workspace user: no lock holder, export, import or server', async () => {
    const ps = await run(['ps', '-u', ws.user, '-o', 'stat=,args=']);
    return ps.stdout.split('\n').filter((l) => l.trim() && !l.trim().startsWith('Z')).length === 0;
  }, { timeoutMs: 15_000 });
  t.pass('none');
  await ws.close();
  t.same(ws.leftovers(), []);
});
