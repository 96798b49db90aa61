// From parsed JSON to a WarrenConfig, or every problem with it: the schema (schema.ts)
// is checked and its defaults filled in by walk.ts; what is left here is the shape the
// rest of warren uses (workspaces as a Map, each knowing its name, its pins always a list)
// and what no single key can say: a workspace's jump host exists, and each jump host is used.
import type { CheckContext } from './checks.js';
import { closest, configError, problemAt, quote, Refusal, type ConfigProblem } from './messages.js';
import {
  ConfigSchema, type GatewayConfig, type JumpHostConfig, type KeepaliveConfig, type LogLevel, type WarrenConfig, type WorkspaceConfig,
} from './schema.js';
import { walk, type Node } from './walk.js';

type WalkedTransport = { kind: 'tcp' } | { kind: 'command'; argv: string[] } | { kind: 'jump'; via: string };
type Pins = { hostKeyFingerprint?: string; hostKeyFingerprints?: string[] };

/** A config file after walk(): every key checked, every default filled in (a host has none). */
interface Walked {
  workspaces: Record<string, Omit<WorkspaceConfig, 'name' | 'host' | 'hostKeyFingerprints' | 'transport'> & Pins & {
    host?: string; transport: WalkedTransport;
  }>;
  jumpHosts: Record<string, Omit<JumpHostConfig, 'name' | 'hostKeyFingerprints' | 'keepalive'> & Pins & { keepalive: KeepaliveConfig }>;
  gateway: GatewayConfig;
  logLevel: LogLevel;
}

export interface ConfigCheck {
  /** Non-null only when problems is empty. */
  config: WarrenConfig | null;
  problems: ConfigProblem[];
}

const pinsOf = (p: Pins): string[] => p.hostKeyFingerprints ?? [p.hostKeyFingerprint!];

/** Every problem with parsed JSON as a config, in the order loadConfig would tell them; the config when there is none. */
export function checkConfig(raw: unknown, o: { baseDir: string; path: string | null }): ConfigCheck {
  const cx: CheckContext = { baseDir: o.baseDir, problems: [] };
  let file: Walked | undefined;
  try {
    file = walk(ConfigSchema as Node, raw, [], cx) as Walked;
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    cx.problems.push(err.problem);
  }
  if (file === undefined) return { config: null, problems: cx.problems };
  const jumpHosts = new Map<string, JumpHostConfig>();
  for (const [name, { hostKeyFingerprint, hostKeyFingerprints, ...j }] of Object.entries(file.jumpHosts ?? {})) {
    jumpHosts.set(name, { name, ...j, hostKeyFingerprints: pinsOf({ hostKeyFingerprint, hostKeyFingerprints }) });
  }
  const workspaces = new Map<string, WorkspaceConfig>();
  const used = new Set<string>();
  for (const [name, { host = '', hostKeyFingerprint, hostKeyFingerprints, transport, ...w }] of Object.entries(file.workspaces ?? {})) {
    let resolved: WorkspaceConfig['transport'];
    if (transport?.kind === 'jump') {
      const jumpHost = jumpHosts.get(transport.via);
      if (transport.via !== undefined) used.add(transport.via);
      if (jumpHost === undefined) {
        // A via that failed its own check, or a jump host that failed its own, is told
        // there; naming it again here would say it twice.
        if (transport.via !== undefined && !hasKey((raw as { jumpHosts?: unknown }).jumpHosts, transport.via)) {
          cx.problems.push(problemAt(['workspaces', name, 'transport', 'via'], unknownJumpHost(transport.via, [...jumpHosts.keys()])));
        }
        continue;
      }
      resolved = { kind: 'jump', via: transport.via, jumpHost };
    } else {
      resolved = transport;
    }
    workspaces.set(name, { name, host, ...w, transport: resolved, hostKeyFingerprints: pinsOf({ hostKeyFingerprint, hostKeyFingerprints }) });
  }
  // Only when every workspace was read: one left out for its own problem may be the user.
  if (cx.problems.length === 0) {
    for (const name of jumpHosts.keys()) {
      if (!used.has(name)) {
        cx.problems.push(problemAt(['jumpHosts', name], `no workspace goes through this jump host: remove it, or give a workspace "transport": {"kind": "jump", "via": ${quote(name)}}`));
      }
    }
  }
  if (cx.problems.length > 0) return { config: null, problems: cx.problems };
  return { config: { workspaces, jumpHosts, gateway: file.gateway, logLevel: file.logLevel, path: o.path }, problems: [] };
}

function hasKey(o: unknown, k: string): boolean {
  return typeof o === 'object' && o !== null && Object.hasOwn(o, k);
}

function unknownJumpHost(via: string, known: string[]): string {
  if (known.length === 0) return `no jump host ${quote(via)}: the config has no "jumpHosts"; add "jumpHosts": {${quote(via)}: {"host": ..., "user": ..., "privateKeyPath": ..., "hostKeyFingerprint": ...}}`;
  const near = closest(via, known);
  return `no jump host ${quote(via)} under "jumpHosts" (it has: ${known.join(', ')})${near === null ? '' : `; did you mean "${near}"?`}`;
}

/** The config, or a ConfigError telling its first problem (and how many more there are). */
export function validateConfig(raw: unknown, o: { baseDir: string; path: string | null }): WarrenConfig {
  const { config, problems } = checkConfig(raw, o);
  if (config === null) throw configError(problems);
  return config;
}
