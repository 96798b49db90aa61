// warren under systemd: the shipped unit passes `systemd-analyze verify` without a
// warning, and the real daemon tells a notify socket READY=1 only once its gateway
// and control socket answer, STOPPING=1 when SIGTERM drains it; an abstract '@'
// socket works too; and a missing systemd-notify costs a warning, not the start.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createWorkspaces, run, waitFor } from '../container/testbed/index.js';
import { startDaemon } from './helpers/daemon.js';
import { notifyReceiver, notifyUnavailable } from './helpers/notify.js';

const why = notifyUnavailable();
const [ws] = why ? [] : await createWorkspaces(1, { namePrefix: 'sd' });
if (ws) t.teardown(() => ws.close());
const unit = path.resolve(import.meta.dirname, '..', '..', 'container', 'warren.service');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-systemd-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

const noAnalyze = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).error !== undefined && 'systemd-analyze (package systemd) is not installed';
t.test('the shipped unit passes systemd-analyze verify, warning-free', { skip: noAnalyze }, async (t) => {
  const verify = (file: string) => run(['systemd-analyze', 'verify', file], { timeoutMs: 60_000 });
  const text = fs.readFileSync(unit, 'utf8');
  t.match(text, /^Type=notify$/m);
  t.match(text, /^NotifyAccess=all$/m, 'systemd-notify is a child of the daemon');
  t.match(text, /^ExecStart=\/usr\/bin\/env warren daemon --config \/etc\/warren\/config\.json$/m);
  t.match(text, /^ExecReload=\/usr\/bin\/env warren reload$/m);
  t.notMatch(text, /^MemoryDenyWriteExecute=/m, "not with Node's JIT");
  // verify checks that ExecStart='s program exists: /usr/bin/env does, the unit is checked as shipped.
  const shipped = await verify(unit);
  t.equal(shipped.code, 0, shipped.stderr);
  t.equal(shipped.stderr, '', 'no warning');
  // The check is not vacuous: the same unit with a program that does not exist fails.
  const broken = path.join(tmp, 'warren.service');
  fs.writeFileSync(broken, text.replace(/^ExecStart=\/usr\/bin\/env /m, 'ExecStart=/nonexistent/env '));
  const bad = await verify(broken);
  t.not(bad.code, 0, 'a missing program is an error');
  t.match(bad.stderr, /\/nonexistent\/env/);
});

if (why) {
  t.test('readiness notifications', { skip: why }, async () => {});
} else {
  t.test('READY=1 once the gateway and control socket answer; STOPPING=1 on SIGTERM', async (t) => {
    const address = path.join(tmp, 'notify.sock');
    const rx = await notifyReceiver(t, address);
    // At the moment READY=1 arrives, the gateway (named in its STATUS=) must already answer.
    let atReady: Promise<number> | undefined;
    rx.onMessage = (m) => {
      const gw = /(?:^| )READY=1 .*gateway (\S+)/.exec(m)?.[1];
      if (gw && !atReady) atReady = fetch(`http://${gw}/v1/workspaces`).then((r) => r.status, () => -1);
    };
    const d = await startDaemon(t, [ws!], { env: { NOTIFY_SOCKET: address } });
    await waitFor('READY=1', () => atReady, { timeoutMs: 15_000 });
    t.equal(await atReady, 401, 'the gateway answered (401: no token) when READY=1 arrived');
    const ready = rx.messages.filter((m) => m.includes('READY=1'));
    t.equal(ready.length, 1, 'READY=1 once');
    t.match(ready[0], /STATUS=serving 1 workspace\(s\); gateway 127\.0\.0\.1:\d+/);
    t.ok(d.log().indexOf('warren daemon ready') >= 0);
    t.equal(await d.stop('SIGTERM'), 0);
    await waitFor('STOPPING=1', () => rx.messages.some((m) => /(^| )STOPPING=1( |$)/.test(m)), { timeoutMs: 10_000 });
    t.pass('STOPPING=1 on the drain');
    t.ok(rx.messages.findIndex((m) => m.includes('READY=1')) < rx.messages.findIndex((m) => m.includes('STOPPING=1')), 'in that order');
    t.notMatch(d.log(), /systemd was not told|cannot tell systemd/);
  });

  t.test("an abstract '@' notify socket works too, and a reload reports its STATUS=", async (t) => {
    const address = `@warren-test-${process.pid}-${Date.now()}`;
    const rx = await notifyReceiver(t, address);
    const d = await startDaemon(t, [ws!], { env: { NOTIFY_SOCKET: address } });
    await waitFor('READY=1', () => rx.messages.some((m) => m.includes('READY=1')), { timeoutMs: 15_000 });
    fs.writeFileSync(d.configPath, '{');
    const r = await run([process.execPath, 'dist/src/cli/main.js', 'reload', '--socket', d.socket], { timeoutMs: 60_000 });
    t.equal(r.code, 2);
    await waitFor('the reload STATUS=', () => rx.messages.some((m) => /STATUS=reload failed \(1 problem\(s\) in .*config\.json\); the running config stays/.test(m)), { timeoutMs: 15_000 });
    t.pass('systemctl status would show the failed reload');
  });

  t.test('no systemd-notify on PATH: a warning, and the daemon serves anyway', async (t) => {
    const rx = await notifyReceiver(t, path.join(tmp, 'notify2.sock'));
    const d = await startDaemon(t, [ws!], { env: { NOTIFY_SOCKET: path.join(tmp, 'notify2.sock'), PATH: '/nonexistent' } });
    await waitFor('the warning', () => d.log().includes('cannot tell systemd'), { timeoutMs: 15_000 });
    t.equal((await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() })).status, 200);
    t.same(rx.messages, [], 'nothing was sent');
  });
}
