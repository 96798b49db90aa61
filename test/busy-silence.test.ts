// The heartbeat watchdog tells a frozen opencode from a working one. opencode beats
// every 10 s, so silence past the watchdog means its event loop did not run; a
// stopped process ends the run (faults-run.test.ts, at the default 30 s), but one
// that uses CPU (starved on a loaded machine, or busy writing a large reply) will
// beat again, and ending its run would cost the user the reply. Here opencode's
// session spins the CPU in a silent tool call far past a short watchdog.
import t from 'tap';
import { createWorkspace, waitFor } from '../container/testbed/index.js';
import { capturingLogger, expectNothingLeft, sharedRuntime } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'busysilent' });
t.teardown(() => ws.close());
const { logger, lines } = capturingLogger();
const shared = sharedRuntime(t, ws, {}, logger);

/** A tool call that prints nothing and spins for `s` seconds, then says so. */
const spin = (s: number) => `[[fake:bash=end=$(($(date +%s)+${s})); while [ $(date +%s) -lt $end ]; do :; done; echo spun]]`;

t.test('silent past the heartbeat watchdog while working: the run waits on and completes', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const s = await rt.createSession();
  t.equal((await rt.chat(s.id, { text: 'warm up' })).text, 'echo: warm up');
  const prompt = `${spin(6)} keep going`;
  const r = await rt.chat(s.id, { text: prompt, heartbeatTimeoutMs: 2000, deadlineMs: 90_000 });
  t.equal(r.text, `echo: ${prompt}\ntool said: spun`, 'the complete reply, after the tool');
  t.ok(lines.some((l) => l.includes('but it is using CPU: waiting on')), 'the watchdog fired, and found opencode working');
});

t.test('silent past the watchdog and not working (stopped): the run ends with a clear error', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const s = await rt.createSession();
  const deltas: string[] = [];
  const pending = rt.chat(s.id, { text: `[[fake:slow=200]] ${'on and on '.repeat(30)}`, onDelta: (d) => deltas.push(d), heartbeatTimeoutMs: 2000, progressTimeoutMs: 120_000 });
  pending.catch(() => {});
  await waitFor('the reply to stream', () => deltas.length >= 2, { timeoutMs: 60_000 });
  const pids = (await ws.runAsUser(['pgrep', '-u', ws.user, '-f', 'opencode serve'])).stdout.trim().split('\n').filter(Boolean);
  t.teardown(() => ws.runInside(['kill', '-CONT', ...pids]));
  await ws.runInside(['kill', '-STOP', ...pids]);
  await t.rejects(pending, { code: 'WARREN_ERR_CHAT_STALLED', message: /no event from opencode for 2 s/ });
  await ws.runInside(['kill', '-CONT', ...pids]);
});

t.test('afterwards nothing is left running', async (t) => {
  await shared.close();
  await expectNothingLeft(t, ws, 20_000);
});
