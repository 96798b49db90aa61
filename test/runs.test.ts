// Runs and idempotency keys on their own: events numbered from 1, replay after any
// point, followers stopped without stopping the run, finished runs evicted by age,
// count and bytes; keys that answer the first message, survive a restart (the file,
// 0600), expire, and are bounded.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { IdempotencyStore, isIdempotencyKey, KEY_TTL_MS } from '../src/broker/idempotency.js';
import { RunRegistry, type RunEvent } from '../src/broker/runs.js';
import { MessageRuns, type RunHost } from '../src/broker/message-runs.js';

const key = (n: number) => ({ workspace: 'alpha', sessionID: 'ses_0000000000000000000000000a', messageID: `msg_${n}` });

t.test('a run numbers its events from 1, replays after any point, and follows live to its last', async (t) => {
  const reg = new RunRegistry();
  const run = reg.start(key(1));
  run.push('accepted', { messageID: 'msg_1' });
  run.push('text', { delta: 'Hel' });
  const late: RunEvent[] = [];
  const stop = run.follow(1, (e) => late.push(e));
  run.push('text', { delta: 'lo' });
  t.same(late.map((e) => [e.id, e.event]), [[2, 'text'], [3, 'text']], 'after 1: the rest, then live');
  stop();
  run.push('done', { text: 'Hello' });
  t.equal(late.length, 2, 'a follower that stopped gets nothing more');
  t.equal(run.state, 'finished', 'the run went on and finished without it');
  run.push('text', { delta: 'too late' });
  t.equal(run.events.length, 4, 'nothing after the last event');
  const replay: RunEvent[] = [];
  run.follow(0, (e) => replay.push(e));
  t.same(replay.map((e) => e.id), [1, 2, 3, 4], 'a finished run replays whole');
  t.equal(reg.get(key(1)), run);
});

t.test('finished runs are evicted by count and by bytes, oldest first; running ones never', async (t) => {
  const reg = new RunRegistry({ maxFinished: 3, maxBytes: 1_000_000 });
  const running = reg.start(key(0));
  for (let n = 1; n <= 5; n++) reg.start(key(n)).push('done', { text: `reply ${n}` });
  t.notOk(reg.get(key(1)), 'the oldest went');
  t.notOk(reg.get(key(2)));
  t.ok(reg.get(key(5)), 'the newest stay');
  t.equal(reg.get(key(0)), running, 'a running run stays');
  t.same(reg.stats().finished, 3);
  const small = new RunRegistry({ maxBytes: 10_000 });
  for (let n = 1; n <= 10; n++) small.start(key(n)).push('done', { text: 'x'.repeat(3000) });
  t.ok(small.stats().finishedBytes <= 10_000, `bytes held ${small.stats().finishedBytes}`);
  t.ok(small.get(key(10)), 'the newest stays');
});

t.test('finished runs go after their keep time', async (t) => {
  const reg = new RunRegistry({ keepMs: 20 });
  reg.start(key(1)).push('done', { text: 'x' });
  t.ok(reg.get(key(1)));
  await new Promise((r) => setTimeout(r, 40));
  t.notOk(reg.get(key(1)), 'gone after keepMs');
});

t.test('message runs made with bounds (BrokerOptions.runs) keep their finished runs to them', async (t) => {
  const runs = new MessageRuns({} as RunHost, { runs: { maxFinished: 2 } });
  for (let n = 1; n <= 4; n++) runs.registry.start(key(n)).push('done', { text: `reply ${n}` });
  t.equal(runs.registry.stats().finished, 2, 'two kept');
  t.notOk(runs.registry.get(key(2)), 'the older went');
  t.ok(runs.registry.get(key(4)), 'the newest stays');
});

t.test('an idempotency key answers the first message, also after a restart, and goes after 24 h', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-idem-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'state', 'idempotency.json');
  const a = new IdempotencyStore(file);
  t.same(a.claim('alpha', 'ses_1', 'k-1', 'msg_first'), { messageID: 'msg_first', fresh: true });
  t.same(a.claim('alpha', 'ses_1', 'k-1', 'msg_second'), { messageID: 'msg_first', fresh: false }, 'the same key: the first message');
  t.same(a.claim('alpha', 'ses_2', 'k-1', 'msg_other'), { messageID: 'msg_other', fresh: true }, 'the same key on another session is another message');
  t.equal(fs.statSync(file).mode & 0o777, 0o600, 'the file is 0600');
  t.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700, 'in a 0700 directory');
  const b = new IdempotencyStore(file);
  t.same(b.claim('alpha', 'ses_1', 'k-1', 'msg_third'), { messageID: 'msg_first', fresh: false }, 'a restarted daemon knows it');
  b.release('alpha', 'ses_2', 'k-1');
  t.same(new IdempotencyStore(file).claim('alpha', 'ses_2', 'k-1', 'msg_new'), { messageID: 'msg_new', fresh: true }, 'a released key is free again');
  const old = JSON.parse(fs.readFileSync(file, 'utf8')) as { keys: Array<[string, { messageID: string; at: number }]> };
  for (const [, e] of old.keys) e.at -= KEY_TTL_MS + 1000;
  fs.writeFileSync(file, JSON.stringify(old));
  t.same(new IdempotencyStore(file).claim('alpha', 'ses_1', 'k-1', 'msg_later'), { messageID: 'msg_later', fresh: true }, 'after 24 h the key is new');
  fs.writeFileSync(file, '{ not json');
  t.same(new IdempotencyStore(file).claim('alpha', 'ses_1', 'k-9', 'msg_x'), { messageID: 'msg_x', fresh: true }, 'an unreadable file starts empty, not a crash');
});

t.test('keys are 1-255 visible ASCII characters', async (t) => {
  t.ok(isIdempotencyKey('a'));
  t.ok(isIdempotencyKey('x'.repeat(255)));
  t.ok(isIdempotencyKey('req-2026-11-29T17:00:00Z#1'));
  t.notOk(isIdempotencyKey(''));
  t.notOk(isIdempotencyKey('x'.repeat(256)));
  t.notOk(isIdempotencyKey('has space'));
  t.notOk(isIdempotencyKey('ümlaut'));
  t.notOk(isIdempotencyKey('tab\t'));
});
