// Every step of a message (locate, import, create, subscribe, prompt, the final
// history read) outlives a link that drops and heals. A step that failed because
// the link dropped under it waits for the link to come back, within the reconnect
// wait and the run's deadline, and runs again; so a fault that heals in time shows
// to the caller only as a slower reply. Steps must therefore be safe to run again:
// a lookup is, a create or a prompt are made so by their callers (they look for
// what the first try may have left before trying again).
//
// Whether a failure was the link's is judged by the link itself, not by the error's
// text: a call that began on one connection and ended with the link down, or on
// another connection, met a drop.
import type { Logger } from '../log.js';
import type { Link } from '../ssh/link.js';
import { ConnectionClosedError, isWarrenError } from '../errors.js';
import type { OpencodeServer } from './server.js';

/** How long one drop may take to heal before a message gives up on it. */
export const RECONNECT_WAIT_MS = 30_000;

/** A drop per attempt: a link that flaps faster than this is not healing. */
const MAX_ATTEMPTS = 12;
/** Connections the server closed under a step while it still listened, retried at once. */
const MAX_CLOSED = 2;

export interface DropBudget {
  link: Link;
  server: OpencodeServer;
  logger: Logger;
  /** How long each drop may take to heal. */
  reconnectWaitMs: number;
  /** No wait or retry goes past this (epoch ms). */
  deadline: number;
  /** The error for a wait cut short by the deadline (a message's: CHAT_TIMEOUT); default the wait's own. */
  deadlineError?: () => Error;
}

export type Fault = 'link' | 'server-gone' | 'other';

/** What a failure of a step that began on link connection `connection` was. */
export function faultOf(err: unknown, link: Link, connection: number): Fault {
  if (isWarrenError(err)) {
    if (err.code === 'WARREN_ERR_LINK_CLOSED' || err.code === 'WARREN_ERR_WAIT_UP_TIMEOUT') return 'other';
    if (err.code === 'WARREN_ERR_LINK_LOST' || err.code === 'WARREN_ERR_LINK_DOWN') return 'link';
  }
  if (link.state !== 'up' || link.connection !== connection) return 'link';
  if (isWarrenError(err) && err.code === 'WARREN_ERR_SERVER_GONE') return 'server-gone';
  return 'other';
}

/** Resolves when the link is up; WAIT_UP_TIMEOUT after the reconnect wait or at the deadline. */
export async function waitForLink(b: DropBudget, cause: unknown): Promise<void> {
  if (b.link.state === 'up') return;
  const left = b.deadline - Date.now();
  if (left <= 0) throw b.deadlineError?.() ?? cause;
  if (left >= b.reconnectWaitMs) return b.link.waitForUp(b.reconnectWaitMs);
  // The deadline comes first: running out of it is the run's timeout, not the link's.
  await b.link.waitForUp(left).catch((err: unknown) => {
    throw isWarrenError(err) && err.code === 'WARREN_ERR_WAIT_UP_TIMEOUT' ? b.deadlineError?.() ?? err : err;
  });
}

export interface StepOptions {
  /**
   * The server died under the step: start it again and run the step once more.
   * Only for steps that sent nothing a dead server could have half done; the step
   * itself calls ensureRunning.
   */
  restartServer?: boolean | (() => boolean);
  /** Checked before each retry: a reason to stop (the run was aborted, say). */
  stopped?: () => Error | null;
}

/** Runs `step`, again after each link drop that heals in time. */
export async function acrossDrops<T>(b: DropBudget, what: string, step: () => Promise<T>, o: StepOptions = {}): Promise<T> {
  let restarted = false;
  let closed = 0;
  for (let attempt = 1; ; attempt++) {
    const connection = b.link.connection;
    try {
      return await step();
    } catch (err) {
      const stop = o.stopped?.();
      if (stop) throw stop;
      const fault = faultOf(err, b.link, connection);
      if (fault === 'other' && err instanceof ConnectionClosedError && closed++ < MAX_CLOSED) {
        b.logger.warn({ step: what, err: err.message }, 'opencode closed a connection under a step; running it again');
        continue;
      }
      if (fault === 'link' && attempt < MAX_ATTEMPTS) {
        b.logger.warn({ step: what, err: (err as Error).message, attempt }, 'the link dropped during a step; waiting for it to run the step again');
        await waitForLink(b, err);
        continue;
      }
      const restart = typeof o.restartServer === 'function' ? o.restartServer() : o.restartServer;
      if (fault === 'server-gone' && restart && !restarted) {
        restarted = true;
        b.logger.warn({ step: what }, 'opencode was gone before the step sent anything; starting it again');
        continue;
      }
      throw err;
    }
  }
}
