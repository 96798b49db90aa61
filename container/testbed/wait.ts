// Waiting for a condition, never for a fixed time: polls until the check passes or
// the deadline passes, then fails saying what it was waiting for.
import { setTimeout as delay } from 'node:timers/promises';

export interface WaitOptions { timeoutMs?: number; intervalMs?: number }

export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  o: WaitOptions = {},
): Promise<T> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let interval = o.intervalMs ?? 10;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false && v !== null) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await delay(Math.min(interval, Math.max(1, deadline - Date.now())));
    interval = Math.min(interval * 2, 200);
  }
}
