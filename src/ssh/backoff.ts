// Reconnect delays: exponential with full jitter (a uniformly random delay between 0
// and the exponential ceiling), so a hundred links that dropped together do not
// come back together. A connection counts as good, and resets the exponent, only
// after it stayed up for the gate time: a link that flaps keeps backing off.
//
// The cap is short (5 s): a message waits out a drop (up to 30 s), so once the fault
// heals, the next attempt must come soon. A 15 s cap let a link that flapped a few
// times come back 15 s after sshd did, which made a healed fault cost the message.
// A hundred links down at once still spread to about 20 attempts a second.

export interface BackoffOptions {
  /** Ceiling of the first retry. */
  baseMs: number;
  /** No delay is longer than this. */
  capMs: number;
  /** How long a connection must stay up before failures are forgotten. */
  gateMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 200, capMs: 5000, gateMs: 10_000 };

/** Delay before retry number `failures` (0 = first retry). `random` is for tests. */
export function backoffDelay(failures: number, o: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(o.capMs, o.baseMs * 2 ** Math.min(failures, 30));
  return Math.floor(random() * ceiling);
}
