// Whether a server that has sent no event for a while is working or frozen. opencode
// beats every 10 s; silence past the heartbeat watchdog means its event loop is not
// running. Frozen (stopped, wedged in the kernel) and starved or busy (a loaded
// machine, a large reply being written) look the same on the stream, but only a
// frozen one stops using CPU: a busy one will beat again, and ending its run would
// cost the user a reply opencode is still making.
import type { Link } from '../ssh/link.js';
import type { Logger } from '../log.js';
import { SESSION_CPU } from './scripts.js';

/** The one round trip's bound: the script sleeps 1 s between its two readings. */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * true when the server's session used CPU over one second, false when it did not or
 * when that cannot be told (no pid, the probe failed): a watchdog then does what it
 * did without asking.
 */
export async function serverWorking(link: Link, pid: number | null, log: Logger): Promise<boolean> {
  if (pid === null || !Number.isInteger(pid) || pid <= 1) return false;
  try {
    const r = await link.exec(['sh', '-c', SESSION_CPU, 'warren-cpu', String(pid)], { timeoutMs: PROBE_TIMEOUT_MS });
    const [a, b] = r.stdout.trim().split(' ').map(Number);
    if (r.code !== 0 || a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) {
      log.warn({ code: r.code, stderr: r.stderr.slice(-200) }, 'could not read opencode\'s CPU time');
      return false;
    }
    return b > a;
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not read opencode\'s CPU time');
    return false;
  }
}
