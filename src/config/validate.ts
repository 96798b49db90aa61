// From parsed JSON to a WarrenConfig, or every problem with it: the schema (schema.ts)
// is checked and its defaults filled in by walk.ts; what is left here is the shape the
// rest of warren uses (workspaces as a Map, each knowing its name, its pins always a list).
import type { CheckContext } from './checks.js';
import { configError, Refusal, type ConfigProblem } from './messages.js';
import { ConfigSchema, type GatewayConfig, type LogLevel, type WarrenConfig, type WorkspaceConfig } from './schema.js';
import { walk, type Node } from './walk.js';

/** A config file after walk(): every key checked, every default filled in (a host has none). */
interface Walked {
  workspaces: Record<string, Omit<WorkspaceConfig, 'name' | 'host' | 'hostKeyFingerprints'> & {
    host?: string; hostKeyFingerprint?: string; hostKeyFingerprints?: string[];
  }>;
  gateway: GatewayConfig;
  logLevel: LogLevel;
}

export interface ConfigCheck {
  /** Non-null only when problems is empty. */
  config: WarrenConfig | null;
  problems: ConfigProblem[];
}

/** Every problem with parsed JSON as a config, in the order loadConfig would tell them; the config when there is none. */
export function checkConfig(raw: unknown, o: { baseDir: string; path: string | null }): ConfigCheck {
  const cx: CheckContext = { baseDir: o.baseDir, problems: [] };
  let file: Walked;
  try {
    file = walk(ConfigSchema as Node, raw, [], cx) as Walked;
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    cx.problems.push(err.problem);
  }
  if (cx.problems.length > 0) return { config: null, problems: cx.problems };
  const workspaces = new Map<string, WorkspaceConfig>();
  for (const [name, { host = '', hostKeyFingerprint, hostKeyFingerprints, ...w }] of Object.entries(file!.workspaces)) {
    workspaces.set(name, { name, host, ...w, hostKeyFingerprints: hostKeyFingerprints ?? [hostKeyFingerprint!] });
  }
  return { config: { workspaces, gateway: file!.gateway, logLevel: file!.logLevel, path: o.path }, problems: [] };
}

/** The config, or a ConfigError telling its first problem (and how many more there are). */
export function validateConfig(raw: unknown, o: { baseDir: string; path: string | null }): WarrenConfig {
  const { config, problems } = checkConfig(raw, o);
  if (config === null) throw configError(problems);
  return config;
}
