// A workspace's last few errors with their times, for `warren status <workspace>`:
// the status snapshot holds only the latest tunnel error and server failure, which a
// reconnect loop overwrites every few seconds. Bounded: the newest RECENT_ERRORS.
import type { StateChange } from '../ssh/link.js';
import type { WorkspaceRuntime } from './workspace.js';

export const RECENT_ERRORS = 5;

export interface RecentError {
  /** ISO time the error happened. */
  at: string;
  source: 'tunnel' | 'opencode';
  code: string | null;
  message: string;
}

export class ErrorHistory {
  private readonly ring: RecentError[] = [];
  private lastFailureAt: string | null = null;

  /** Records the runtime's link errors and server failures as they happen. */
  watch(runtime: WorkspaceRuntime): void {
    runtime.link.on('state', (c: StateChange) => {
      if (c.error) this.add({ at: new Date(c.at).toISOString(), source: 'tunnel', code: c.error.code, message: c.error.message });
    });
    runtime.server.on('state', () => {
      const f = runtime.server.snapshot().lastFailure;
      if (!f || f.at === this.lastFailureAt) return;
      this.lastFailureAt = f.at;
      this.add({ at: f.at, source: 'opencode', code: null, message: f.message });
    });
  }

  /** Newest first. */
  list(): RecentError[] {
    return this.ring.map((e) => ({ ...e })).reverse();
  }

  private add(e: RecentError): void {
    this.ring.push(e);
    if (this.ring.length > RECENT_ERRORS) this.ring.shift();
  }
}
