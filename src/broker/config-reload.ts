// Re-reading the daemon's config file, for SIGHUP and for `warren reload` alike: one
// code path, one reload at a time. A file that does not load changes nothing; the
// report lists every problem so the person can fix them all in one go.
import path from 'node:path';
import { checkConfigFile, type ConfigProblem, type WarrenConfig } from '../config/index.js';
import { ShuttingDownError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Broker } from './broker.js';

/** What the control command `reload` answers (one JSON line). */
export type ReloadReport =
  | {
    reloaded: true;
    path: string;
    workspaces: { added: string[]; removed: string[]; changed: string[]; unchanged: string[] };
    /** Settings that differ from the running ones but apply only at the next start: "gateway", "logLevel". */
    nextStart: string[];
  }
  | { reloaded: false; path: string; problems: ConfigProblem[] };

export class ConfigReloader {
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly file: string;

  /** `running`: the config the daemon started with (its gateway and logLevel stay until a restart). */
  constructor(private readonly broker: Broker, file: string, private readonly running: WarrenConfig, private readonly log: Logger) {
    this.file = path.resolve(file);
  }

  /** Reads the file and applies it; waits for any reload before it. Never throws for a bad file: it reports. */
  reload(origin: 'SIGHUP' | 'control'): Promise<ReloadReport> {
    if (this.stopped) return Promise.reject(new ShuttingDownError());
    const next = this.queue.then(() => this.apply(origin));
    this.queue = next.catch(() => {});
    return next;
  }

  /** Refuses reloads from now on (the daemon drains); resolves once none is in progress. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.queue.then(() => {});
  }

  private async apply(origin: 'SIGHUP' | 'control'): Promise<ReloadReport> {
    // Every problem of the file, not the first: the person fixes them all in one go.
    const { config, problems } = checkConfigFile(this.file);
    if (config === null) {
      this.log.error({ origin, config: this.file, problems }, 'reload failed; the running config stays');
      return { reloaded: false, path: this.file, problems };
    }
    const nextStart: string[] = [];
    if (JSON.stringify(config.gateway) !== JSON.stringify(this.running.gateway)) nextStart.push('gateway');
    if (config.logLevel !== this.running.logLevel) nextStart.push('logLevel');
    if (nextStart.length > 0) this.log.warn({ settings: nextStart }, 'gateway settings or logLevel changed: those apply at the next start of the daemon');
    const workspaces = await this.broker.reload(config);
    return { reloaded: true, path: this.file, workspaces, nextStart };
  }
}
