// The benchmark summary's verdicts (bench/report.ts): a goal is met only when every
// round meets it, missed only when none does, and "within noise" otherwise, so a
// noisy run cannot report a change it did not measure.
import t from 'tap';
import { differenceOf, formatSummary, judge, ratioOf, spread, withinNoise, withRange, type Row } from '../bench/report.js';

t.test('a ratio goal is judged round by round', async (t) => {
  const atMost = (g: number) => (c: number) => c <= g;
  t.equal(judge([1.0, 1.1, 1.05], [1, 1, 1], ratioOf, atMost(1.2)).met, true, 'every round within 1.2x: met');
  t.equal(judge([2, 2.5, 3], [1, 1, 1], ratioOf, atMost(1.2)).met, false, 'no round within: not met');
  t.equal(judge([1.0, 1.5, 1.1], [1, 1, 1], ratioOf, atMost(1.2)).met, 'noise', 'one round past the goal: within noise');
  t.equal(judge([1, 1], [1, 1], ratioOf, atMost(1.2)).met, 'noise', 'two rounds prove nothing');
  // Each round compares the figures measured together: drift that hits both sides cancels.
  const drifting = judge([1.1, 2.2, 3.3], [1, 2, 3], ratioOf, atMost(1.2));
  t.equal(drifting.met, true);
  t.ok(drifting.compared.max - drifting.compared.min < 1e-9, 'the ratio is the same in every round');
});

t.test('a difference goal and the printed ranges', async (t) => {
  const j = judge([0.5, 0.6, 0.55], [0.3, 0.3, 0.3], differenceOf, (c) => c <= 0.3);
  t.equal(j.met, true);
  t.equal(withRange(spread([0.41, 0.38, 0.52]), (n) => `${n.toFixed(2)} ms`), '0.41 ms (0.38-0.52 ms)');
  const rows: Row[] = [
    { what: 'a', value: '1', anchor: '1', ratio: '1.00x', goal: '<= 1.2x', met: 'noise' },
    { what: 'b', value: '1', anchor: '1', ratio: '1.00x', goal: '<= 1.2x', met: true },
  ];
  t.match(formatSummary(rows), /^a .* within noise$/m);
  t.same(withinNoise(rows), ['a: 1.00x against goal <= 1.2x']);
});
