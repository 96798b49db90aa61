// A session made with OpenCode's own CLI inside a real workspace container
// (--network=none: only its loopback) resumes through warren: `warren chat --session`
// over the docker exec transport, then the daemon's gateway, each reply streamed.
import t from 'tap';
import { dockerFixture, expectNoContainersLeft } from './fixture.js';
import { startContainer } from './container.js';
import { cliSessionIn, configFor, daemonFor, entryOf, historyIn, send, warren } from './warren.js';
import { ending } from '../helpers/daemon.js';

const fx = await dockerFixture(t);

t.test('a session made by opencode run in the container resumes through warren chat and the gateway', async (t) => {
  const c = await startContainer(t, fx.image);
  const id = await cliSessionIn(c, '/home/workspace/proj', 'first from the container CLI');
  t.match(id, /^ses_/);
  const config = await configFor(t, { box: await entryOf(c) });

  const chat = await warren(['chat', 'box', '--config', config, '--session', id, 'second through warren chat']);
  t.equal(chat.code, 0, `warren chat exits 0 (${chat.stderr.trim().slice(-300)})`);
  t.match(chat.stdout, /echo: second through warren chat/, 'the reply streams to stdout');

  const d = await daemonFor(t, 'box', c);
  const r = await send(d, 'box', id, 'third through the gateway');
  t.equal(r.status, 200);
  t.equal(r.events[0]?.event, 'accepted');
  t.same(ending(r.events), { event: 'done', data: { sessionID: id, text: 'echo: third through the gateway' } });
  const deltas = r.events.filter((e) => e.event === 'text').map((e) => e.data.delta).join('');
  t.equal(deltas, 'echo: third through the gateway', 'the deltas add up to the reply');

  const history = await historyIn(c, id);
  t.same(history.filter((m) => m.role === 'user').map((m) => m.text.replace(/^"|"$/g, '')),
    ['first from the container CLI', 'second through warren chat', 'third through the gateway'], 'one session holds all three turns');
  await d.stop();
});

expectNoContainersLeft(t);
