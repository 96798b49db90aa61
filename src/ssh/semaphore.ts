// A counting semaphore with abortable waits. Two uses: a process-wide cap on SSH
// handshakes in progress (sshd drops unauthenticated connections past MaxStartups,
// 10:30:100 by default, so a hundred links reconnecting at once must queue here
// instead of racing there), and a per-link cap on exec sessions (sshd's
// MaxSessions refuses the one past it).

export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('a semaphore needs a whole number >= 1');
  }

  get inProgress(): number { return this.active; }
  get queued(): number { return this.waiting.length; }

  /** Resolves with a release function once a slot is free; an abort gives the place up. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        this.active--;
        this.waiting.shift()?.();
      };
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        this.active++;
        resolve(release);
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason);
      };
      if (this.active < this.max) return grant();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }
}

/** Handshakes in progress, shared by every link in the process unless one is given its own. */
export const defaultHandshakeLimiter = new Semaphore(8);
