// The shape of a config after loading: every key validated, every default filled in.
// The JSON file is this minus the defaults; validate.ts is the one place that gets
// from one to the other. Defaults live here so the docs and the code cannot drift.

/** How the link reaches the workspace's sshd. */
export type TransportConfig =
  /** TCP to `host:port`. */
  | { kind: 'tcp' }
  /**
   * sshd's stdin/stdout as the connection, so the workspace needs no network port,
   * e.g. ["docker", "exec", "-i", "ctr", "/usr/sbin/sshd", "-i"]. Run locally, without
   * a shell: each element is one argument.
   */
  | { kind: 'command'; argv: string[] };

/** The opencode server warren starts inside the workspace on demand. */
export interface OpencodeConfig {
  /** Port it listens on inside the workspace (loopback there). Default 4096. */
  port: number;
  /** The opencode executable in the workspace. Default "opencode". */
  command: string;
  /** Stop the server after this long without requests. Default 600000 (10 min). */
  idleTimeoutMs: number;
  /** Give up when the server is not answering this long after starting. Default 60000. */
  startTimeoutMs: number;
}

/** warren's own keepalive probe on the ssh link, which also measures round-trip time. */
export interface KeepaliveConfig {
  /** Time between probes. Default 1000. */
  intervalMs: number;
  /** A probe unanswered this long drops the link. Default 1800, so a frozen peer is noticed within 2.8 s. */
  timeoutMs: number;
}

export interface WorkspaceConfig {
  /** The key under "workspaces": 1-63 of [A-Za-z0-9._-], starting with a letter or digit; unique ignoring case. */
  name: string;
  /** sshd's host name or IP address. Required for tcp; "" when a command transport was given no host. */
  host: string;
  /** sshd's TCP port. Default 22. */
  port: number;
  /** The ssh login name. */
  user: string;
  /** Absolute path of the client's private key; a relative path in the file is resolved against the config file's directory. */
  privateKeyPath: string;
  /** The pinned host key: "SHA256:" and 43 base64 characters, as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** Extra OpenCode data directories (XDG_DATA_HOME-style) inside the workspace to search for sessions. Absolute there; not checked locally. Default []. */
  importFrom: string[];
  /** Default { kind: "tcp" }. */
  transport: TransportConfig;
  opencode: OpencodeConfig;
  keepalive: KeepaliveConfig;
}

export interface GatewayConfig {
  /** "HOST:PORT" with a loopback HOST (127.x.x.x, localhost, [::1]), or an absolute unix socket path. Default "127.0.0.1:7391". */
  listen: string;
  /** The bearer token clients must send (non-empty; the daemon warns when it is short). null: the daemon generates one. Never log it. */
  token: string | null;
  /** Absolute path of the file holding the token. Default null. */
  tokenFile: string | null;
  /** Absolute directory for what the gateway keeps across restarts (idempotency keys). Default null: /var/lib/warren as root, else $XDG_STATE_HOME/warren. */
  stateDir: string | null;
  /**
   * Browser origins ("https://ui.example.com", as browsers send them: lower case, no
   * default port) whose requests the gateway does not refuse. Only that: it sends no CORS
   * headers. Default []: every request a browser marks as coming from another site is a 403.
   */
  allowedOrigins: string[];
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface WarrenConfig {
  /**
   * In the file's order (except that names which are array indices, like "7", come
   * first: JSON objects arrive as JS objects, which order such keys that way).
   */
  workspaces: Map<string, WorkspaceConfig>;
  gateway: GatewayConfig;
  /** pino level. Default "info". */
  logLevel: LogLevel;
  /** Absolute path of the file the config came from; null when it came from elsewhere. */
  path: string | null;
}

export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export const DEFAULTS = {
  port: 22,
  importFrom: [] as readonly string[],
  opencode: { port: 4096, command: 'opencode', idleTimeoutMs: 600_000, startTimeoutMs: 60_000 } as Readonly<OpencodeConfig>,
  keepalive: { intervalMs: 1000, timeoutMs: 1800 } as Readonly<KeepaliveConfig>,
  gateway: { listen: '127.0.0.1:7391', token: null, tokenFile: null, stateDir: null, allowedOrigins: [] } as Readonly<GatewayConfig>,
  logLevel: 'info' as LogLevel,
} as const;
