// From parsed JSON to a WarrenConfig, or one ConfigError naming the key and the
// problem: the schema (schema.ts) is checked and its defaults filled in by walk.ts;
// what is left here is the shape the rest of warren uses (workspaces as a Map, each
// knowing its name).
import type { CheckContext } from './checks.js';
import { ConfigSchema, type GatewayConfig, type LogLevel, type WarrenConfig, type WorkspaceConfig } from './schema.js';
import { walk, type Node } from './walk.js';

/** A config file after walk(): every key checked, every default filled in (a host has none). */
interface Walked {
  workspaces: Record<string, Omit<WorkspaceConfig, 'name' | 'host'> & { host?: string }>;
  gateway: GatewayConfig;
  logLevel: LogLevel;
}

export function validateConfig(raw: unknown, o: { baseDir: string; path: string | null }): WarrenConfig {
  const cx: CheckContext = { baseDir: o.baseDir };
  const file = walk(ConfigSchema as Node, raw, [], cx) as Walked;
  const workspaces = new Map<string, WorkspaceConfig>();
  for (const [name, { host = '', ...w }] of Object.entries(file.workspaces)) workspaces.set(name, { name, host, ...w });
  return { workspaces, gateway: file.gateway, logLevel: file.logLevel, path: o.path };
}
