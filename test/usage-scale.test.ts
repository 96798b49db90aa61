// Usage over a thousand sessions (issue 17): one real session made by the CLI inside
// the workspace, cloned 999 times in opencode's own database, then read through the
// library. The figures are the sums; asking again reads nothing; one new message reads
// one session's newest page, not the history; a reply taken away is noticed by the
// session's totals; a deleted session leaves the figures;
// and the daemon's background reads never keep an idle server up. Times are printed
// as comments (the bound is measured in bench/, docs/benchmarks.md), never asserted.
import t from 'tap';
import { createWorkspace, waitFor } from '../container/testbed/index.js';
import type { Message, Session } from '@opencode-ai/sdk/v2';
import { callServer } from '../src/opencode/api.js';
import { cliSession, runtimeFor } from './helpers/runtime.js';
import { cloneSession } from './helpers/clone-sessions.js';
import { opencodeDb, sqlSessionId } from './helpers/opencode-db.js';

const ws = await createWorkspace({ name: 'usage1k' });
t.teardown(() => ws.close());

const SESSIONS = 1000;
const template = await cliSession(ws, `${ws.home}/proj`, '[[fake:usage=100,20,5,10]] the template');
const ids = await cloneSession(ws, template, SESSIONS);

const rt = runtimeFor(t, ws, { opencode: { idleTimeoutMs: 5000 } });
const DAY = 86_400_000;
const q = { since: Date.now() - DAY, by: 'workspace' as const };

t.test('a thousand sessions: the sums, then nothing read again, then only what changed', async (t) => {
  let started = Date.now();
  const [one] = await rt.usage(q);
  t.comment(`first read of ${SESSIONS} sessions: ${Date.now() - started} ms`);
  const per = (await rt.usage({ ...q, by: 'session' })).find((r) => r.key === template)!;
  t.equal(one!.messages, SESSIONS, 'one assistant message per session');
  t.same(one!.tokens, {
    input: per.tokens.input * SESSIONS, output: per.tokens.output * SESSIONS, reasoning: per.tokens.reasoning * SESSIONS,
    cacheRead: per.tokens.cacheRead * SESSIONS, cacheWrite: per.tokens.cacheWrite * SESSIONS,
  }, 'every kind, a thousand times the template\'s');
  t.ok(per.tokens.cacheRead > 0 && per.tokens.reasoning > 0, 'the template has cached and reasoning tokens');
  t.ok(Math.abs(one!.cost - per.cost * SESSIONS) < 1e-9, `cost ${one!.cost}`);
  const s1 = { ...rt.usageLedger.stats };
  t.equal(s1.sessionsRead, SESSIONS, 'each session read once');
  t.equal(s1.messagesRead, SESSIONS);
  t.equal(s1.wholeReads, 0, 'no session read twice');

  started = Date.now();
  await rt.usage(q);
  t.comment(`second read, nothing changed: ${Date.now() - started} ms`);
  t.equal(rt.usageLedger.stats.sessionsRead, s1.sessionsRead, 'nothing changed: no session read');

  // A new message in one session: that session's newest page is read, nothing else.
  const target = ids[42]!;
  await rt.chat(target, { text: '[[fake:usage=3,4,0,0]] one more' });
  started = Date.now();
  const [after] = await rt.usage(q);
  t.comment(`read after one new message: ${Date.now() - started} ms`);
  t.equal(rt.usageLedger.stats.sessionsRead, s1.sessionsRead + 1, 'one session read');
  t.equal(rt.usageLedger.stats.messagesRead - s1.messagesRead, 1, 'one message read: the new reply, not the one before it');
  t.equal(rt.usageLedger.stats.wholeReads, 0, 'the session\'s totals agreed: no whole read');
  t.equal(after!.messages, SESSIONS + 1);

  // A reply taken away as a revert does, in opencode's database: the message gone, the
  // session's totals lowered and its time moved. The newest page has nothing new, but
  // the sum no longer matches the session's totals: the session is read again whole.
  const reverted = ids[7]!;
  await opencodeDb(ws, `BEGIN;
    DELETE FROM message WHERE session_id = ${sqlSessionId(reverted)} AND data LIKE '%"role":"assistant"%';
    UPDATE session SET time_updated = time_updated + 1, cost = 0, tokens_input = 0, tokens_output = 0, tokens_reasoning = 0, tokens_cache_read = 0, tokens_cache_write = 0 WHERE id = ${sqlSessionId(reverted)};
    COMMIT;`);
  const [afterRevert] = await rt.usage(q);
  t.equal(rt.usageLedger.stats.wholeReads, 1, 'the session whose totals disagreed was read again whole');
  t.equal(afterRevert!.messages, SESSIONS, 'and its reply is gone from the figures');

  // A deleted session: its messages leave the figures.
  await callServer(rt.server, ws.name, `/session/${target}`, { method: 'DELETE', directory: `${ws.home}/proj` });
  const [gone] = await rt.usage(q);
  t.equal(gone!.messages, SESSIONS - 2, 'the deleted session and its two replies are gone');
});

t.test('background reads leave the idle stop alone', async (t) => {
  const before = rt.usageLedger.stats.refreshes;
  t.equal(rt.server.state, 'running');
  // Reads every 300 ms, each a lease on the server, for as long as it runs: it still
  // stops 5 s after its last real use. (With a read counting as use it never would.)
  let reading = true;
  const loop = (async () => {
    while (reading) {
      await rt.refreshUsageQuietly(Date.now() - DAY);
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  try {
    await waitFor('the idle stop', () => rt.server.state === 'stopped', { timeoutMs: 30_000 });
  } finally {
    reading = false;
    await loop;
  }
  t.ok(rt.usageLedger.stats.refreshes - before >= 3, `${rt.usageLedger.stats.refreshes - before} background reads while it idled`);
  const reads = rt.usageLedger.stats.refreshes;
  await rt.refreshUsageQuietly(Date.now() - DAY);
  t.equal(rt.usageLedger.stats.refreshes, reads, 'a stopped server is not started for a background read');
  t.equal(rt.server.state, 'stopped');
});

t.test('a reply is counted whole once it ends, though opencode leaves the session\'s updated time as a read saw it', async (t) => {
  // opencode writes a reply's tokens to the session's totals, then to the message,
  // then completes it, and moves the session's updated time afterwards, mostly, not
  // always. Each case reads the session, lets a reply end, puts the session back as
  // the read saw it in everything but what the case is about, and reads again.
  const session = ids[100]!;
  const directory = `${ws.home}/proj`;
  // The server stops 5 s after its last use.
  const sessionOf = async () => {
    await rt.server.ensureRunning();
    return (await callServer<Session>(rt.server, ws.name, `/session/${session}`, { directory })).body;
  };
  const row = async () => (await rt.usage({ ...q, by: 'session' })).find((r) => r.key === session)!;
  const asRead = async (s: Session, totals: boolean) => {
    const tk = s.tokens!;
    await opencodeDb(ws, `UPDATE session SET time_updated = ${s.time.updated}${totals ? `, cost = ${s.cost ?? 0}, tokens_input = ${tk.input}, tokens_output = ${tk.output}, tokens_reasoning = ${tk.reasoning}, tokens_cache_read = ${tk.cache.read}, tokens_cache_write = ${tk.cache.write}` : ''} WHERE id = ${sqlSessionId(session)}`);
    t.equal((await sessionOf()).time.updated, s.time.updated, 'the session\'s updated time as the read saw it');
  };

  // Read before the reply began: only the session's totals moved.
  const base = await row();
  const before = await sessionOf();
  t.match((await rt.chat(session, { text: '[[fake:usage=7,13,0,0]] one' })).text, /one$/);
  await asRead(before, false);
  t.equal((await row()).tokens.output, base.tokens.output + 13, 'its tokens, found by the session\'s totals');

  // Read while the reply was being written (the fake model holds each chunk 1 s), between the
  // totals and the message: nothing moved but the reply the read met unfinished.
  const reply = rt.chat(session, { text: '[[fake:slow=1000]] [[fake:usage=7,13,0,0]] two', deadlineMs: 60_000 });
  await waitFor('the reply to be under way', async () => {
    const [newest] = (await callServer<Array<{ info: Message }>>(rt.server, ws.name, `/session/${session}/message?limit=1`, { directory })).body;
    return newest?.info.role === 'assistant' && newest.info.time.completed === undefined;
  }, { timeoutMs: 30_000, intervalMs: 50 });
  const mid = await row();
  const during = await sessionOf();
  t.same([mid.messages, mid.tokens.output], [base.messages + 2, base.tokens.output + 13], 'the read met the reply unfinished: counted, no tokens yet');
  t.match((await reply).text, /two$/);
  await asRead(during, true);
  t.equal((await row()).tokens.output, base.tokens.output + 26, 'its tokens, found by the unfinished reply');
  const reads = rt.usageLedger.stats.sessionsRead;
  await row();
  t.equal(rt.usageLedger.stats.sessionsRead, reads, 'once finished, the session is not read again');

  // Callers that come while a read runs share one read after it, not one each.
  const refreshes = rt.usageLedger.stats.refreshes;
  const all = await Promise.all(Array.from({ length: 10 }, () => rt.usage(q)));
  t.ok(rt.usageLedger.stats.refreshes - refreshes <= 2, `ten usage calls at once: ${rt.usageLedger.stats.refreshes - refreshes} reads`);
  t.ok(all.every((r) => r[0]!.messages === all[0]![0]!.messages), 'the same figures for all');
});
