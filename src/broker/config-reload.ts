// Re-reading the daemon's config file, for SIGHUP and for `warren reload` alike: one
// code path, one reload at a time. A file that does not load changes nothing; the
// report lists every problem so the person can fix them all in one go.
import path from 'node:path';
import { loadConfig, type WarrenConfig } from '../config/index.js';
import { ShuttingDownError, isWarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Broker } from './broker.js';

export interface ConfigProblem { key: string | null; message: string }

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

/** The config file read for a reload: the config, or every problem found in it. */
export interface ConfigCheck { config: WarrenConfig | null; problems: ConfigProblem[] }

/**
 * THE one place a reload reads the file. loadConfig stops at the first problem; when
 * src/config exports checkConfigFile(file) → {config|null, problems, path} (branch
 * cfg14), return its config and problems here instead and every problem is reported.
 */
export function checkForReload(file: string): ConfigCheck {
  try {
    return { config: loadConfig(file), problems: [] };
  } catch (err) {
    if (!isWarrenError(err) || err.code !== 'WARREN_ERR_CONFIG') return { config: null, problems: [{ key: null, message: (err as Error).message }] };
    const key = (err as { key?: string | null }).key ?? null;
    // ConfigError's message is "config error[ at KEY]: problem"; the report carries key and problem apart.
    const message = err.message.replace(key === null ? 'config error: ' : `config error at ${key}: `, '');
    return { config: null, problems: [{ key, message }] };
  }
}

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
    const { config, problems } = checkForReload(this.file);
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
