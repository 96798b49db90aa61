// A workspace container restarted or stopped under a running daemon, as Docker does
// it to real workspaces: the link and the opencode server come back by themselves
// after `docker restart` (idle, or in the middle of a reply, which then either
// completes or ends in one clear error); `docker stop` is a plain "workspace down"
// answer at once (the gateway's 503, the CLI's one line), and `docker start` heals it.
import t from 'tap';
import { docker } from './engine.js';
import { dockerFixture, expectNoContainersLeft } from './fixture.js';
import { startContainer } from './container.js';
import { configFor, createSession, daemonFor, entryOf, send, tunnelOf, tunnelState, warren, type Event } from './warren.js';
import { ending } from '../helpers/daemon.js';
import { waitFor } from '../../container/testbed/index.js';

const fx = await dockerFixture(t);

t.test('docker restart and stop under a daemon', async (t) => {
  const c = await startContainer(t, fx.image);
  const d = await daemonFor(t, 'box', c);
  const config = await configFor(t, { box: await entryOf(c) });
  const id = await createSession(d, 'box');
  const up = () => waitFor('the tunnel up again', async () => (await tunnelState(d, 'box')) === 'up', { timeoutMs: 90_000, intervalMs: 250 });
  const reply = async (text: string) => {
    const r = await send(d, 'box', id, text);
    return r.status === 200 ? ending(r.events) : { event: `http ${r.status}`, data: r.body ?? {} };
  };
  t.same(await reply('before any restart'), { event: 'done', data: { sessionID: id, text: 'echo: before any restart' } });

  await t.test('restart while idle: the link and the server recover', async (t) => {
    await docker(['restart', '-t', '2', c.name], { timeoutMs: 60_000 });
    await c.ready();
    await up();
    t.same(await reply('after an idle restart'), { event: 'done', data: { sessionID: id, text: 'echo: after an idle restart' } });
  });

  await t.test('restart in the middle of a reply: it completes or ends in one clear error, and the next one works', async (t) => {
    let restarting: Promise<unknown> | null = null;
    const onEvent = (e: Event) => {
      if (e.event === 'text' && !restarting) restarting = docker(['restart', '-t', '1', c.name], { timeoutMs: 60_000 });
    };
    // About 6 s of reply: 8-character chunks, 400 ms apart.
    const r = await send(d, 'box', id, '[[fake:slow=400]] a reply long enough to be cut by a restart of its container', onEvent);
    t.ok(restarting, 'the restart began while text was streaming');
    await restarting;
    const ends = r.events.filter((e) => e.event === 'done' || e.event === 'error');
    t.equal(ends.length, 1, 'exactly one ending event');
    const last = r.events.at(-1)!;
    if (last.event === 'done') {
      t.equal(r.events.filter((e) => e.event === 'text').map((e) => e.data.delta).join(''), last.data.text, 'the deltas add up to the reply');
    } else {
      t.equal(last.event, 'error');
      t.match(last.data, { code: /^WARREN_ERR_[A-Z_]+$/, message: /\S/ }, `one clear error: ${JSON.stringify(last.data)}`);
      t.notMatch(String(last.data.message), /\n/, 'on one line');
    }
    await c.ready();
    await up();
    t.same(await reply('after a restart mid-reply'), { event: 'done', data: { sessionID: id, text: 'echo: after a restart mid-reply' } });
  });

  await t.test('docker stop: "workspace down" at once from the gateway and the CLI; docker start heals it', async (t) => {
    await docker(['stop', '-t', '2', c.name], { timeoutMs: 60_000 });
    await waitFor('the tunnel to leave up', async () => (await tunnelState(d, 'box')) !== 'up', { timeoutMs: 30_000, intervalMs: 200 });
    // Until the link has tried again, all it knows is that the connection closed; after
    // its first attempt it knows why (this waited for the leaving alone once, and got
    // "lost (connection closed)": true, but not what this checks).
    await waitFor('a reconnect attempt to fail', async () => /is not running/.test((await tunnelOf(d, 'box'))?.lastError ?? ''), { timeoutMs: 30_000, intervalMs: 200 });
    const started = Date.now();
    const r = await send(d, 'box', id, 'while it is stopped');
    t.ok(Date.now() - started < 5_000, `answered in ${Date.now() - started} ms, not held`);
    t.equal(r.status, 503);
    t.match(r.body, { error: { code: 'WARREN_ERR_LINK_DOWN', message: /is not running/ } }, 'the gateway says the container is not running');
    const cli = await warren(['chat', 'box', '--config', config, '--session', id, 'while it is stopped'], 60_000);
    t.equal(cli.code, 1);
    t.equal(cli.stderr.trim().split('\n').length, 1, 'one line');
    t.match(cli.stderr, /^warren: .*box.*is not running/, `the CLI says so: ${cli.stderr.trim()}`);

    await docker(['start', c.name], { timeoutMs: 60_000 });
    await c.ready();
    await up();
    t.same(await reply('after docker start'), { event: 'done', data: { sessionID: id, text: 'echo: after docker start' } });
  });
  await d.stop();
});

expectNoContainersLeft(t);
