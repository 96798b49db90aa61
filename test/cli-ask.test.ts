// `warren chat` when opencode asks a person: on a terminal (tmux, typed answers) it
// asks there; off one, --auto approves a permission, and otherwise what was asked is
// refused with one line naming it, never a hang. Real sshd and opencode; the fake
// model's bash= and question= directives, bash set to ask in the project's config.
import t, { type Test } from 'tap';
import { createWorkspace, run, runOk, waitFor } from '../container/testbed/index.js';
import { STOP } from '../src/opencode/scripts.js';
import { quoteCommand } from '../src/ssh/quote.js';
import { askingDir as askingDirIn, configFile, expectNothingLeft } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'cliask' });
t.teardown(() => ws.close());
const main = 'dist/src/cli/main.js';

const askingDir = (name: string) => askingDirIn(ws, name);
const exists = async (p: string) => (await ws.runAsUser(['test', '-e', p])).code === 0;
// --keep-server: the first chat starts opencode and the others adopt it, so each test
// pays for its asking, not for a cold start (a one-shot chat stopping the server it
// started is cli-chat.test's); the last test stops it.
const chat = (cfg: string, dir: string, text: string, extra: string[] = []) =>
  run([process.execPath, main, 'chat', ws.name, '--config', cfg, '--keep-server', '--directory', dir, ...extra, '--', text], { timeoutMs: 90_000 });

t.test('off a terminal, a permission is refused with one line naming it; the command never runs', async (t) => {
  const cfg = configFile(t, [ws]);
  const dir = await askingDir('refuse');
  const r = await chat(cfg, dir, '[[fake:bash=touch refused.txt]] try');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /^warren: opencode asked to use bash touch refused\.txt; refused: no terminal to ask on \(--auto approves\)$/m);
  t.notOk(await exists(`${dir}/refused.txt`), 'not run');
});

t.test('off a terminal with --auto, a permission is approved once and the reply follows the command', async (t) => {
  const cfg = configFile(t, [ws]);
  const dir = await askingDir('auto');
  const r = await chat(cfg, dir, '[[fake:bash=echo auto-ran]] go', ['--auto']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /^warren: approved \(--auto\): bash echo auto-ran$/m);
  t.match(r.stdout, /tool said: auto-ran/);
});

t.test('off a terminal, a question is dismissed with one line naming it', async (t) => {
  const cfg = configFile(t, [ws]);
  const dir = await askingDir('question-off');
  const r = await chat(cfg, dir, '[[fake:question=Which color?|red|blue]] pick', ['--auto']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /^warren: opencode asked "Which color\?"; dismissed: no terminal to ask on$/m);
});

/** Runs warren chat in a tmux pane; returns a reader of the screen and a way to type. */
async function inTmux(t: Test, argv: string[]) {
  const name = `warren-ask-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  await runOk(['tmux', 'new-session', '-d', '-s', name, '-x', '160', '-y', '40', `${quoteCommand(argv)}; echo "EXIT:$?"; sleep 60`]);
  t.teardown(() => run(['tmux', 'kill-session', '-t', name]));
  const screen = async () => (await run(['tmux', 'capture-pane', '-p', '-t', name, '-S', '-200'])).stdout;
  const type = (keys: string) => runOk(['tmux', 'send-keys', '-t', name, keys, 'Enter']);
  return { screen, type };
}

t.test('on a terminal, warren chat asks: "y" runs the command, a number picks an option', async (t) => {
  const cfg = configFile(t, [ws]);
  const dir = await askingDir('tty');
  const perm = await inTmux(t, [process.execPath, main, 'chat', ws.name, '--config', cfg, '--keep-server', '--directory', dir, '--', '[[fake:bash=echo typed-yes]] go']);
  await waitFor('the permission prompt', async () => /opencode asks to use bash echo typed-yes: allow \[y\]es once, \[a\]lways, \[n\]o\?/.test(await perm.screen()), { timeoutMs: 60_000 });
  await perm.type('y');
  await waitFor('the reply and exit 0', async () => /tool said: typed-yes[\s\S]*EXIT:0/.test(await perm.screen()), { timeoutMs: 60_000 });
  t.pass('asked on the terminal, answered, the command ran');
  const q = await inTmux(t, [process.execPath, main, 'chat', ws.name, '--config', cfg, '--keep-server', '--directory', dir, '--', '[[fake:question=Which color?|red|blue]] pick']);
  await waitFor('the question with its options', async () => /Which color\?\s+1\. red[\s\S]*2\. blue[\s\S]*answer with a number/.test(await q.screen()), { timeoutMs: 60_000 });
  await q.type('2');
  await waitFor('the reply naming the choice, exit 0', async () => /blue[\s\S]*EXIT:0/.test((await q.screen()).split('answer with a number').pop() ?? ''), { timeoutMs: 60_000 });
  t.pass('the chosen option reached the model');
});

t.test('afterwards nothing is left running, and closing leaves nothing', async (t) => {
  const stop = await ws.runAsUser(['sh', '-c', STOP, 'warren-stop', '4096']);
  t.equal(stop.code, 0, `the kept server stops (${stop.stderr.trim()})`);
  await expectNothingLeft(t, ws, 20_000);
});
