// Reconnect delays: exponential with full jitter (a uniformly random delay between 0
// and the exponential ceiling), so a hundred links that dropped together do not
// come back together. A connection counts as good, and resets the exponent, only
// after it stayed up for the gate time: a link that flaps keeps backing off.

export interface BackoffOptions {
  /** Ceiling of the first retry. */
  baseMs: number;
  /** No delay is longer than this. */
  capMs: number;
  /** How long a connection must stay up before failures are forgotten. */
  gateMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 200, capMs: 15_000, gateMs: 10_000 };

/** Delay before retry number `failures` (0 = first retry). `random` is for tests. */
export function backoffDelay(failures: number, o: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(o.capMs, o.baseMs * 2 ** Math.min(failures, 30));
  return Math.floor(random() * ceiling);
}
