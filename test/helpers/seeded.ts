// Seeded randomness for tests that try many generated inputs, so that a failure
// reproduces from the seed in the test's name (mulberry32: small, fast, good enough).
export function seeded(seed: number): { rand: () => number; pick: <T>(xs: readonly T[]) => T } {
  let state = seed;
  const rand = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return { rand, pick: (xs) => xs[Math.floor(rand() * xs.length)]! };
}
