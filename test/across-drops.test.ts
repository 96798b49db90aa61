// The policy of every step of a message across link drops, case by case: what counts
// as the link's fault, when a step runs again, and which error a wait ends with. The
// link here is a plain object whose state the test sets; every step on a real sshd
// and opencode is in faults-steps.test.ts.
import t from 'tap';
import { acrossDrops, faultOf, waitForLink, type DropBudget } from '../src/opencode/across-drops.js';
import { ConnectionClosedError, LinkDownError, LinkLostError, ServerGoneError, ServerHttpError, WaitUpTimeoutError, WarrenError } from '../src/errors.js';
import type { Link } from '../src/ssh/link.js';
import type { OpencodeServer } from '../src/opencode/server.js';
import { silentLogger } from '../src/log.js';

function fakeLink(state: 'up' | 'down' = 'up') {
  const waiters: Array<() => void> = [];
  const link = {
    state, connection: 1,
    waitForUp(ms: number): Promise<void> {
      if (link.state === 'up') return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new WaitUpTimeoutError('alpha', ms, null)), ms);
        waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    },
    comeBack() {
      link.state = 'up';
      link.connection++;
      for (const w of waiters.splice(0)) w();
    },
  };
  return link;
}

function budget(link: ReturnType<typeof fakeLink>, o: Partial<DropBudget> = {}): DropBudget {
  return { link: link as unknown as Link, server: {} as OpencodeServer, logger: silentLogger, reconnectWaitMs: 1000, deadline: Date.now() + 10_000, ...o };
}

t.test('what counts as the link\'s fault: its own errors, or any failure with the link down or on a newer connection', async (t) => {
  const link = fakeLink();
  const L = link as unknown as Link;
  t.equal(faultOf(new LinkLostError('alpha', 'x'), L, 1), 'link');
  t.equal(faultOf(new LinkDownError('alpha', 'down', null), L, 1), 'link');
  t.equal(faultOf(new Error('other side closed'), L, 1), 'other', 'an undici error with the link up on the same connection is not');
  t.equal(faultOf(new ServerGoneError('alpha'), L, 1), 'server-gone');
  link.connection = 2;
  t.equal(faultOf(new ServerGoneError('alpha'), L, 1), 'link', 'began on an older connection: the drop came first');
  link.state = 'down';
  t.equal(faultOf(new ServerHttpError('alpha', 'GET /x', 500, 'boom'), L, 2), 'link');
  t.equal(faultOf(new WaitUpTimeoutError('alpha', 30_000, null), L, 2), 'other', 'a wait that ran out is final');
  t.equal(faultOf(new WarrenError('WARREN_ERR_LINK_CLOSED', 'closed'), L, 2), 'other', 'a closed link is final');
});

t.test('a step that met a drop runs again once the link is back, and only then', async (t) => {
  const link = fakeLink();
  let runs = 0;
  const result = acrossDrops(budget(link), 'a step', async () => {
    runs++;
    if (runs === 1) {
      link.state = 'down';
      throw new LinkLostError('alpha', 'keepalive');
    }
    return 'done';
  });
  await new Promise((r) => setImmediate(r));
  t.equal(runs, 1, 'no retry while the link is down');
  link.comeBack();
  t.equal(await result, 'done');
  t.equal(runs, 2);
});

t.test('other failures are not retried; a dead server is started again once, only where the step allows it', async (t) => {
  const link = fakeLink();
  await t.rejects(acrossDrops(budget(link), 'a step', async () => { throw new ServerHttpError('alpha', 'GET /x', 404, 'nope'); }), { code: 'WARREN_ERR_SERVER_HTTP' });
  let runs = 0;
  await t.rejects(acrossDrops(budget(link), 'a step', async () => { runs++; throw new ServerGoneError('alpha'); }), { code: 'WARREN_ERR_SERVER_GONE' });
  t.equal(runs, 1, 'not by default');
  runs = 0;
  await t.rejects(acrossDrops(budget(link), 'a step', async () => { runs++; throw new ServerGoneError('alpha'); }, { restartServer: true }), { code: 'WARREN_ERR_SERVER_GONE' });
  t.equal(runs, 2, 'once where allowed');
  runs = 0;
  const stop = new WarrenError('WARREN_ERR_CHAT_ABORTED', 'aborted');
  await t.rejects(acrossDrops(budget(link), 'a step', async () => { runs++; link.state = 'down'; throw new LinkLostError('alpha', 'x'); }, { stopped: () => stop }), stop, 'a stopped run is not retried');
  t.equal(runs, 1);
});

t.test('a connection opencode closed while it still listens (a stale keep-alive) runs the step again at once, twice at most', async (t) => {
  const link = fakeLink();
  let runs = 0;
  t.equal(await acrossDrops(budget(link), 'a step', async () => {
    if (++runs < 3) throw new ConnectionClosedError('alpha', 'GET /x', 'other side closed');
    return 'done';
  }), 'done');
  t.equal(runs, 3);
  runs = 0;
  await t.rejects(acrossDrops(budget(link), 'a step', async () => { runs++; throw new ConnectionClosedError('alpha', 'GET /x', 'other side closed'); }), { code: 'WARREN_ERR_CHANNEL_FAILED' });
  t.equal(runs, 3, 'then it is an error');
});

t.test('a drop that outlasts the reconnect wait ends in WAIT_UP_TIMEOUT; one that outlasts the deadline in the run\'s own timeout', async (t) => {
  const down = fakeLink('down');
  await t.rejects(waitForLink(budget(down, { reconnectWaitMs: 50 }), new Error('cause')), { code: 'WARREN_ERR_WAIT_UP_TIMEOUT' });
  const timeout = new WarrenError('WARREN_ERR_CHAT_TIMEOUT', 'the reply took too long');
  await t.rejects(waitForLink(budget(down, { reconnectWaitMs: 5000, deadline: Date.now() + 50, deadlineError: () => timeout }), new Error('cause')), timeout);
  await t.rejects(waitForLink(budget(down, { deadline: Date.now() - 1, deadlineError: () => timeout }), new Error('cause')), timeout, 'past the deadline already');
  await waitForLink(budget(fakeLink('up')), new Error('cause'));
  t.pass('an up link is not waited for');
});
