// Teardown on failure paths: a test process that crashes cleans up on its way out,
// and what a process killed with SIGKILL leaves is removed by the sweep.
import t from 'tap';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { leftoversOf, sweepStale, waitFor } from '../container/testbed/index.js';

const testbed = pathToFileURL(path.resolve(import.meta.dirname, '..', 'container', 'testbed', 'index.js')).href;

interface Info { pid: number; slot: number; mode: 'netns' | 'loopback'; user: string; uid: number; sshdPid: number; modelPid: number; createdUser: boolean }

function child(then: string) {
  const script = `
    import { createWorkspace } from ${JSON.stringify(testbed)};
    const ws = await createWorkspace({ name: 'crashy' });
    const o = JSON.parse((await import('node:fs')).readFileSync(ws.dir + '/owner.json', 'utf8'));
    console.log(JSON.stringify({ pid: process.pid, slot: ws.slot, mode: ws.mode, user: ws.user, uid: ws.uid, sshdPid: o.sshdPid, modelPid: o.modelPid, createdUser: o.createdUser }));
    ${then}`;
  const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  c.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => c.on('close', (code) => resolve(code)));
  const info = waitFor('the child to report its workspace', () => {
    const line = out.split('\n').find((l) => l.startsWith('{'));
    if (line) return JSON.parse(line) as Info;
    if (c.exitCode !== null) throw new Error(`child exited early: ${err}`);
    return undefined;
  }, { timeoutMs: 30_000 });
  return { c, info, exited, stderr: () => err };
}

const hints = (i: Info) => ({ mode: i.mode, createdUser: i.createdUser, sshdPid: i.sshdPid, modelPid: i.modelPid, user: i.user, ownerPid: i.pid });

t.test('a test process that throws tears its workspaces down on exit', async (t) => {
  const { info, exited, stderr } = child(`setTimeout(() => { throw new Error('boom: the test failed'); }, 10);`);
  const i = await info;
  t.not(await exited, 0, 'the child crashed');
  t.match(stderr(), /boom/);
  t.same(leftoversOf(i.slot, hints(i)), [], 'nothing left behind');
});

t.test('a test process ended by SIGTERM (tap\'s timeout) leaves nothing behind', async (t) => {
  const { c, info, exited } = child(`setInterval(() => {}, 1000);`);
  const i = await info;
  c.kill('SIGTERM');
  await exited;
  t.equal(c.signalCode, 'SIGTERM', 'it died of the signal');
  await waitFor('its reaper to remove what it left', () => leftoversOf(i.slot, hints(i)).length === 0, { timeoutMs: 10_000 });
  t.pass('nothing left behind');
});

t.test('a SIGKILLed process: its reaper removes what it left', async (t) => {
  const { c, info, exited } = child(`setInterval(() => {}, 1000);`);
  const i = await info;
  c.kill('SIGKILL');
  await exited;
  await waitFor('its reaper to remove what it left', () => leftoversOf(i.slot, hints(i)).length === 0, { timeoutMs: 10_000 });
  t.pass('nothing left behind');
  t.same(sweepStale(), [], 'and the sweep finds nothing more');
});

