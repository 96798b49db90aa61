// A small soak (bench/chaos.ts) in every test run: 40 messages on 3 workspaces with
// faults injected at random from a fixed seed (sshd killed, workspaces frozen and
// networks cut for 3-6 s, opencode killed). Nothing may be lost, duplicated, hung or
// leaked; transport faults heal, so they may cost no message anything; every error
// must be explained by a fault that truly ends a run (opencode killed) or by the
// message's model directive. `npm run chaos` runs the full-size one.
import t from 'tap';
import { chaosPassed, formatChaos, runChaos } from '../bench/chaos.js';

const SEED = 7;

t.test('40 messages under random faults: nothing lost, duplicated, hung or leaked, and no error a healed fault caused', async (t) => {
  const faults: string[] = [];
  // A bounded number of faults: on a loaded machine messages slow down, and an
  // open-ended schedule would keep them failing for minutes.
  const r = await runChaos({ seed: SEED, messages: 40, workspaces: 3, sessions: 3, maxFaults: 10, faultGapMs: [1000, 2500], log: (l) => faults.push(l) });
  t.comment([...faults, formatChaos(r)].join('\n'));
  t.equal(r.messages, 40, 'every message settled one way or another');
  t.ok(Object.values(r.faults).reduce((a, b) => a + b, 0) >= 3, 'faults were injected while messages ran');
  t.equal(r.injectFailures, 0, 'every fault was injected and healed');
  t.equal(r.outcomes.unexplained, 0, 'no error that no fatal fault or model directive explains');
  t.equal(r.outcomes.ok + r.outcomes.error, 40, `every other message got its complete reply (${r.outcomes.ok} ok, ${r.outcomes.error} explained errors: ${JSON.stringify(r.errorsByCause)})`);
  t.equal(r.lost, 0, 'no reply the caller got is missing from history');
  t.equal(r.duplicated, 0, 'nothing twice in any history');
  t.equal(r.outcomes.hung, 0, 'no call hung');
  t.equal(r.outcomes.unclear, 0, 'every error is a WarrenError with a code');
  t.equal(r.outcomes.wrong, 0, 'every reply is the complete, right text');
  t.equal(r.leaked, 0, 'no handle, fd, process or workspace leftover after close');
  t.ok(chaosPassed(r));
});
