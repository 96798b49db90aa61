// Reconnect backoff and the semaphore behind the handshake cap.
import t from 'tap';
import { backoffDelay, DEFAULT_BACKOFF } from '../src/ssh/backoff.js';
import { Semaphore } from '../src/ssh/semaphore.js';

t.test('full jitter under an exponential ceiling, capped', async (t) => {
  const o = { baseMs: 100, capMs: 2000, gateMs: 1000 };
  t.same([0, 1, 2, 3, 4, 5, 10, 50].map((f) => backoffDelay(f, o, () => 0.999999)), [99, 199, 399, 799, 1599, 1999, 1999, 1999], 'ceilings double up to the cap');
  t.equal(backoffDelay(3, o, () => 0), 0, 'jitter reaches down to zero');
  const spread = new Set(Array.from({ length: 200 }, () => backoffDelay(4, o)));
  t.ok(spread.size > 50, 'delays are spread out, so links that dropped together come back apart');
  t.ok(DEFAULT_BACKOFF.capMs <= 30_000 && DEFAULT_BACKOFF.gateMs > 0, 'defaults are sane');
});

t.test('the semaphore grants in order, never beyond its size, and an abort gives the place up', async (t) => {
  const s = new Semaphore(2);
  const r1 = await s.acquire();
  const r2 = await s.acquire();
  const order: number[] = [];
  const ac = new AbortController();
  const p3 = s.acquire().then((r) => { order.push(3); return r; });
  const p4 = s.acquire(ac.signal).then(() => order.push(4), () => order.push(-4));
  const p5 = s.acquire().then((r) => { order.push(5); return r; });
  t.equal(s.queued, 3);
  ac.abort(new Error('gone'));
  await p4;
  t.equal(s.queued, 2, 'the aborted waiter left the queue');
  r1();
  r1(); // releasing twice must not free two places
  const r3 = await p3;
  t.equal(s.inProgress, 2);
  r2();
  const r5 = await p5;
  t.same(order, [-4, 3, 5]);
  r3();
  r5();
  t.equal(s.inProgress, 0);
  t.throws(() => new Semaphore(0), RangeError);
});
