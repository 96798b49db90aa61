// Telling systemd how the daemon is doing (Type=notify): READY=1 once the control
// socket and the gateway listen, STOPPING=1 when it drains, STATUS= lines between.
// Node has no unix datagram sockets, so each message is sent by systemd-notify, which
// (systemd >= 246) waits on a barrier until the manager has taken the message: a
// short-lived sender is still attributed to the unit (with NotifyAccess=all). Any
// NOTIFY_SOCKET form works, abstract '@…' included, because systemd parses it.
// Nothing here blocks the daemon: every send has a deadline, a failure is a warning.
import { spawn } from 'node:child_process';
import type { Logger } from '../log.js';

export const NOTIFY_DEADLINE_MS = 5000;

export interface Notifier {
  /** Sends `KEY=value` assignments as one message, after those sent before. */
  send(...assignments: string[]): void;
  /** Resolves when every send has finished or run out of time. */
  settled(): Promise<void>;
}

const none: Notifier = { send: () => {}, settled: () => Promise.resolve() };

/**
 * A notifier for $NOTIFY_SOCKET, or one that does nothing when it is unset. The
 * variable is taken out of `env`, so the processes the daemon starts do not inherit it.
 */
export function notifierFromEnv(env: NodeJS.ProcessEnv, logger: Logger, program = 'systemd-notify'): Notifier {
  const socket = env.NOTIFY_SOCKET;
  delete env.NOTIFY_SOCKET;
  if (!socket) return none;
  let queue = Promise.resolve();
  let broken = false;
  const sendOne = (assignments: string[]) => new Promise<void>((resolve) => {
    if (broken) return resolve();
    const child = spawn(program, assignments, { env: { ...env, NOTIFY_SOCKET: socket }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 2000) stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), NOTIFY_DEADLINE_MS);
    const what = assignments.find((a) => !a.startsWith('STATUS=')) ?? 'STATUS';
    let done = false;
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err.code === 'ENOENT') broken = true;
      logger.warn({ notify: what, err: err.message }, `cannot tell systemd (${program} failed to start); install systemd's ${program} or drop Type=notify`);
      resolve();
    });
    child.once('close', (code, signal) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (code !== 0) {
        const why = signal === 'SIGKILL' ? `no answer within ${NOTIFY_DEADLINE_MS} ms` : stderr.trim() || `exit ${code ?? signal}`;
        logger.warn({ notify: what, notifySocket: socket, why }, `systemd was not told ${what}; is NotifyAccess=all set in the unit?`);
      } else {
        logger.debug({ notify: what }, 'told systemd');
      }
      resolve();
    });
  });
  return {
    send: (...assignments) => { queue = queue.then(() => sendOne(assignments)); },
    settled: () => queue,
  };
}
