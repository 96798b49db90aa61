// Every config key, described once: its type, whether it is required, its default,
// its limits and what it means. The TypeScript types below are derived from it, the
// loader (walk.ts) checks a file against it, and schema/config.schema.json is it as
// JSON Schema for editors (`npm run schema`). The `loader` keyword on a node is for the
// loader's messages only (the words for "required key is missing (...)", "must be ...",
// and the named checks that JSON Schema cannot express, in checks.ts); the published
// file leaves it out. Patterns carry `patternErrorMessage`, which is both the loader's
// message and what VS Code shows.
import { Type, type Static } from '@sinclair/typebox';
import { DURATION_FORMS, DURATION_PATTERN } from './durations.js';
import { ORIGIN_EXAMPLE } from './origin.js';
import { KEEPALIVE_DEFAULTS } from '../defaults.js';
import { FINGERPRINT } from '../host-key.js';
import { LOG_LEVELS } from '../log.js';

/** The names of the loader's own checks (checks.ts), run after the schema's rules pass. */
export type CheckName = 'keyFile' | 'listen' | 'origin';
/** Named additions to a failed pattern's message. */
export type HintName = 'fingerprint';
/** Named checks of an object's keys against the keys before them. */
export type KeyCheckName = 'uniqueIgnoringCase';

/** What the loader says about a node, beyond what JSON Schema says. */
export interface Loader {
  /** A required key is absent: `required key is missing (${missing})`. */
  missing?: string;
  /** The wrong type: `must be ${expected} (got a number)`; arrays: `must be an array of ${expected} (...)`. */
  expected?: string;
  /** Instead of "must not be empty" (minLength 1). */
  empty?: string;
  /** Fewer than minItems / minProperties. */
  few?: string;
  /** What maxItems counts: `must list at most 32 ${noun} (got 33)`. */
  noun?: string;
  /** Integers: `must be a whole number of ${unit} from ...`. */
  unit?: string;
  /** Why `maximum` is the limit; when given, a number above it is told so first. */
  tooBig?: string;
  hint?: HintName;
  /** A duration: an integer of milliseconds or a string like "30s" (durations.ts); the first anyOf member has the limits. */
  duration?: true;
  check?: CheckName;
  keyCheck?: KeyCheckName;
}

const says = (loader: Loader) => ({ loader });

// setTimeout turns anything longer into 1 ms, so a longer timeout would fire at once.
const MAX_TIMER_MS = 2_147_483_647;
const TIMER_LIMIT = 'about 24.8 days, the longest timer Node can set';

/** A workspace's name, as the config, the gateway's routes and the OpenAPI document take it. */
export const WORKSPACE_NAME = '[A-Za-z0-9][A-Za-z0-9._-]{0,62}';
const NAME = new RegExp(`^${WORKSPACE_NAME}$`);
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const FINGERPRINT_SHAPE = 'must be "SHA256:" and 43 base64 characters, as ssh-keygen -lf prints it, e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';

// Patterns are JSON Schema patterns: ECMA-262 with the u flag, matched anywhere in the value.
// JSON Schema has no regex flags, so a RegExp given here must have none.
function rule(pattern: RegExp | string, patternErrorMessage: string): { pattern: string; patternErrorMessage: string } {
  if (typeof pattern !== 'string' && pattern.flags !== '') throw new Error(`config schema: /${pattern.source}/ has flags, which JSON Schema cannot carry`);
  return { pattern: typeof pattern === 'string' ? pattern : pattern.source, patternErrorMessage };
}
const NO_NUL = rule('^[^\\u0000]*$', 'must not contain a NUL byte');
// No NUL and no line break: a string that can be passed to a process and logged on one line.
const ONE_LINE = [NO_NUL, rule('^[^\\r\\n]*$', 'must not contain a line break')];
const absolute = (message: string) => rule('^/', message);

const port = (fallback: number, description: string) =>
  Type.Integer({ minimum: 1, maximum: 65535, default: fallback, description });
// A number of milliseconds, or a string like "30s"; the loader turns both into milliseconds.
const millis = (min: number, max: number, fallback: number, description: string) =>
  Type.Union([Type.Integer({ minimum: min, maximum: max }), Type.String({ pattern: DURATION_PATTERN })], {
    default: fallback,
    description: `${description} In ${DURATION_FORMS}.`,
    ...says({ unit: 'milliseconds', duration: true, ...(max === MAX_TIMER_MS ? { tooBig: TIMER_LIMIT } : {}) }),
  });

export const Transport = Type.Union([
  Type.Object({ kind: Type.Literal('tcp') }, { additionalProperties: false, description: 'TCP to host:port.' }),
  Type.Object({
    kind: Type.Literal('command'),
    argv: Type.Array(Type.String({ minLength: 1, allOf: [NO_NUL], ...says({ expected: 'a non-empty string' }) }), {
      minItems: 1,
      description: 'The program and its arguments, one per element.',
      ...says({ expected: 'non-empty strings', missing: 'the command that connects to sshd\'s stdin and stdout', few: 'must have at least one element, the program to run' }),
    }),
  }, {
    additionalProperties: false,
    description: 'sshd\'s stdin and stdout as the connection, so the workspace needs no network port, e.g. ["docker", "exec", "-i", "alpha", "/usr/sbin/sshd", "-i"]. Run on this host without a shell.',
  }),
  Type.Object({
    kind: Type.Literal('jump'),
    via: Type.String({
      ...rule(NAME, 'is not a valid jump host name: 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit'),
      description: 'The jump host to go through: a name under "jumpHosts".',
      ...says({ missing: 'the jump host to go through, a name under "jumpHosts"', expected: 'a jump host name' }),
    }),
  }, {
    additionalProperties: false,
    description: 'SSH through a jump host (a bastion): warren keeps one connection to it, shared by every workspace behind it, and reaches this workspace\'s host and port from there.',
  }),
], { default: { kind: 'tcp' }, description: 'How warren reaches the workspace\'s sshd.' });

export const Opencode = Type.Object({
  port: Type.Optional(port(4096, 'Where opencode serve listens on the workspace\'s 127.0.0.1.')),
  command: Type.Optional(Type.String({
    minLength: 1, allOf: ONE_LINE, default: 'opencode',
    description: 'The opencode executable, as found on the workspace user\'s login PATH.',
    ...says({ expected: 'a non-empty string' }),
  })),
  idleTimeoutMs: Type.Optional(millis(1000, MAX_TIMER_MS, 600_000, 'Stop the server after this long without requests or streams.')),
  startTimeoutMs: Type.Optional(millis(1000, MAX_TIMER_MS, 60_000, 'Give up when the server is not answering this long after starting.')),
}, { additionalProperties: false, description: 'The opencode server warren starts inside the workspace on demand.' });

export const Keepalive = Type.Object({
  intervalMs: Type.Optional(millis(100, 60_000, KEEPALIVE_DEFAULTS.intervalMs, 'Time between probes.')),
  timeoutMs: Type.Optional(millis(100, 120_000, KEEPALIVE_DEFAULTS.timeoutMs, 'A probe unanswered this long drops the link, so a frozen workspace is noticed within interval + timeout.')),
}, { additionalProperties: false, description: 'warren\'s keepalive probe on the ssh link, which also measures the round-trip time.' });

const hostName = (description: string) => Type.String({
  minLength: 1, maxLength: 253,
  allOf: [
    rule(/^[^\s\u0000-\u001f\u007f-\u009f]*$/, 'must not contain whitespace or control characters'),
    rule('^(?!-)', 'must not start with "-"'),
    rule('^(?!\\[)', 'write IPv6 addresses without brackets (the port goes in "port")'),
  ],
  description,
  ...says({ missing: 'the sshd host name or address', expected: 'a host name or IP address' }),
});
const userName = (description: string) => Type.String({
  ...rule(USER, 'is not a valid user name: 1 to 32 letters, digits, "_", "." or "-", starting with a letter or "_"'),
  description,
  ...says({ missing: 'the ssh login name', expected: 'a user name' }),
});
const keyPath = () => Type.String({
  minLength: 1, allOf: [...ONE_LINE, rule('^(?!~)', '"~" is not expanded here: write the full path')],
  description: 'The client\'s private key file, readable by warren. A relative path is relative to the config file\'s directory.',
  ...says({ missing: 'the private key file to log in with', expected: 'a file path', check: 'keyFile' }),
});
/** The host key pins, one or several; `where` is the machine whose sshd presents it. */
const pins = (where: string) => ({
  hostKeyFingerprint: Type.Optional(Type.String({
    ...rule(FINGERPRINT, FINGERPRINT_SHAPE),
    description: `The pinned host key: "SHA256:" and 43 base64 characters, as ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub prints it in ${where}. A mismatch never connects. Give this or hostKeyFingerprints, not both.`,
    ...says({
      missing: `the pinned SHA256 fingerprint of the ${where.replace(/^the /, '')} sshd host key; or "hostKeyFingerprints", a list of them`,
      expected: 'a string like "SHA256:" and 43 base64 characters', hint: 'fingerprint',
    }),
  })),
  hostKeyFingerprints: Type.Optional(Type.Array(Type.String({
    ...rule(FINGERPRINT, FINGERPRINT_SHAPE),
    ...says({ expected: 'a string like "SHA256:" and 43 base64 characters', hint: 'fingerprint' }),
  }), {
    minItems: 1, maxItems: 16,
    description: 'Several pinned host keys, for a key rotation: the host may present any one of them. Give this or hostKeyFingerprint, not both.',
    ...says({ expected: 'SHA256 fingerprints', noun: 'fingerprints', few: 'must list at least one fingerprint' }),
  })),
});
// One pin or several, never both and never none.
const ONE_PIN_OR_SEVERAL = [{ required: ['hostKeyFingerprint'] }, { required: ['hostKeyFingerprints'] }];

export const Workspace = Type.Object({
  host: Type.Optional(hostName('sshd\'s host name or IP address (as the jump host sees it, with a jump transport). Required unless transport is a command.')),
  port: Type.Optional(port(22, 'sshd\'s TCP port.')),
  user: userName('The workspace user warren logs in as (and runs opencode as).'),
  privateKeyPath: keyPath(),
  ...pins('the workspace'),
  importFrom: Type.Optional(Type.Array(Type.String({
    allOf: [...ONE_LINE, absolute('must be an absolute path (it names a directory inside the workspace)')],
    ...says({ expected: 'an absolute directory path inside the workspace' }),
  }), {
    maxItems: 32, default: [],
    description: 'Other OpenCode data directories inside the workspace (XDG_DATA_HOME-style parents of opencode/) to search for sessions the server does not know. Not checked on this host.',
    ...says({ expected: 'absolute directory paths inside the workspace', noun: 'directories' }),
  })),
  transport: Type.Optional(Transport),
  opencode: Type.Optional(Opencode),
  keepalive: Type.Optional(Keepalive),
}, {
  additionalProperties: false,
  oneOf: ONE_PIN_OR_SEVERAL,
  // The host is what a tcp transport connects to; a command reaches sshd without one.
  if: { type: 'object', properties: { transport: { type: 'object', properties: { kind: { const: 'command' } }, required: ['kind'] } }, required: ['transport'] },
  else: { required: ['host'] },
  description: 'One workspace: where its sshd is and how warren logs in.',
});

export const JumpHost = Type.Object({
  host: hostName('The jump host\'s sshd: host name or IP address, as this host reaches it.'),
  port: Type.Optional(port(22, 'The jump host sshd\'s TCP port.')),
  user: userName('The user warren logs in as on the jump host; it needs only local forwarding (no shell).'),
  privateKeyPath: keyPath(),
  ...pins('the jump host'),
  keepalive: Type.Optional(Keepalive),
}, {
  additionalProperties: false,
  oneOf: ONE_PIN_OR_SEVERAL,
  description: 'A jump host (bastion): one SSH connection warren keeps to it, shared by every workspace whose transport goes through it. Its sshd must allow local forwarding to those workspaces\' host:port.',
});

export const Gateway = Type.Object({
  listen: Type.Optional(Type.String({
    default: '127.0.0.1:7391',
    description: 'HOST:PORT with a loopback HOST (127.x.x.x, localhost, [::1]), or an absolute unix socket path. Nothing else is accepted.',
    ...says({ expected: 'a string, "HOST:PORT" or an absolute unix socket path', check: 'listen' }),
  })),
  token: Type.Optional(Type.Union([
    Type.String({
      // Short tokens load (the spec's own example is "change-me"); the daemon warns
      // about them at start. An empty one would let any header through.
      minLength: 1,
      ...rule(/^[\x21-\x7e]*$/, 'must be printable ASCII without spaces (it is sent in an HTTP Authorization header)'),
      ...says({ expected: 'a string', empty: 'is empty: leave token out to have one generated, or give a long random one (e.g. openssl rand -base64 32)' }),
    }),
    Type.Null(),
  ], { default: null, description: 'The bearer token clients must send. Absent or null: the daemon generates one into a 0600 file. Never logged.' })),
  tokenFile: Type.Optional(Type.Union([
    Type.String({ allOf: [...ONE_LINE, absolute('must be an absolute path')], ...says({ expected: 'an absolute file path' }) }),
    Type.Null(),
  ], { default: null, description: 'Absolute path of the file a generated token is written to.' })),
  stateDir: Type.Optional(Type.Union([
    Type.String({ allOf: [...ONE_LINE, absolute('must be an absolute path')], ...says({ expected: 'an absolute directory path' }) }),
    Type.Null(),
  ], { default: null, description: 'Absolute directory for what the gateway keeps across restarts (idempotency keys). null: /var/lib/warren as root, else $XDG_STATE_HOME/warren.' })),
  allowedOrigins: Type.Optional(Type.Array(Type.String({ ...says({ expected: `an origin, ${ORIGIN_EXAMPLE}`, check: 'origin' }) }), {
    maxItems: 64, default: [],
    description: 'Browser origins (scheme://host[:port], as browsers send them, e.g. "https://ui.example.com") whose requests the gateway does not refuse. Only that: it sends no CORS headers.',
    ...says({ expected: `origins, ${ORIGIN_EXAMPLE}`, noun: 'origins' }),
  })),
}, { additionalProperties: false, description: 'The HTTP gateway of warren daemon, for the host agent.' });

export type LogLevel = (typeof LOG_LEVELS)[number];

export const ConfigSchema = Type.Object({
  workspaces: Type.Record(Type.String(), Workspace, {
    minProperties: 1,
    additionalProperties: false,
    propertyNames: rule(NAME, 'is not a valid workspace name: use 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit (names appear in URLs, logs and remote commands)'),
    description: 'The workspaces to connect to, by name. Names differing only by case are duplicates.',
    ...says({ missing: 'the workspaces to connect to, by name', few: 'must name at least one workspace', keyCheck: 'uniqueIgnoringCase', noun: 'workspace name' }),
  }),
  jumpHosts: Type.Optional(Type.Record(Type.String(), JumpHost, {
    additionalProperties: false,
    default: {},
    propertyNames: rule(NAME, 'is not a valid jump host name: use 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit'),
    description: 'Jump hosts by name, for workspaces whose transport is {"kind": "jump", "via": "<name>"}. Every one must be used by a workspace.',
    ...says({ keyCheck: 'uniqueIgnoringCase', noun: 'jump host name' }),
  })),
  gateway: Type.Optional(Gateway),
  logLevel: Type.Optional(Type.Unsafe<LogLevel>({ type: 'string', enum: [...LOG_LEVELS], default: 'info', description: 'The daemon\'s log level (pino).' })),
  $schema: Type.Optional(Type.String({
    description: 'Where editors find this file\'s JSON Schema: schema/config.schema.json of the installed warren package.',
    ...says({ expected: 'a string (a JSON schema URL)' }),
  })),
}, { additionalProperties: false });

/** A config file as written: what the schema allows, defaults not yet filled in. */
export type ConfigFile = Static<typeof ConfigSchema>;
export type TransportConfig = Static<typeof Transport>;
export interface OpencodeConfig { port: number; command: string; idleTimeoutMs: number; startTimeoutMs: number }
export interface KeepaliveConfig { intervalMs: number; timeoutMs: number }
export interface GatewayConfig extends Required<Static<typeof Gateway>> {}

/** A jump host after loading: its pins always a list, its key path absolute, its keepalive filled in. */
export interface JumpHostConfig {
  /** The key under "jumpHosts". */
  name: string;
  host: string;
  port: number;
  user: string;
  privateKeyPath: string;
  hostKeyFingerprints: string[];
  keepalive: KeepaliveConfig;
}

/** A workspace's transport after loading: a jump carries its jump host's config, so a change there changes the workspace. */
export type WorkspaceTransport =
  | { kind: 'tcp' }
  | { kind: 'command'; argv: string[] }
  | { kind: 'jump'; via: string; jumpHost: JumpHostConfig };

export interface WorkspaceConfig extends Required<Omit<Static<typeof Workspace>, 'opencode' | 'keepalive' | 'hostKeyFingerprint' | 'hostKeyFingerprints' | 'transport'>> {
  /** The key under "workspaces". */
  name: string;
  /** "" when a command transport was given no host. */
  host: string;
  /** Absolute: a relative path in the file is resolved against the config file's directory. */
  privateKeyPath: string;
  /** The pins, one or more: hostKeyFingerprint as a list of one, or hostKeyFingerprints. */
  hostKeyFingerprints: string[];
  /** Durations in milliseconds, whichever form the file used. */
  opencode: OpencodeConfig;
  keepalive: KeepaliveConfig;
  transport: WorkspaceTransport;
}

/** A config after loading: every key checked, every default filled in. */
export interface WarrenConfig {
  /**
   * In the file's order (except that names which are array indices, like "7", come
   * first: JSON objects arrive as JS objects, which order such keys that way).
   */
  workspaces: Map<string, WorkspaceConfig>;
  /** By name; the loader always fills it (empty without jump hosts), a config built by hand may leave it out. */
  jumpHosts?: Map<string, JumpHostConfig>;
  gateway: GatewayConfig;
  logLevel: LogLevel;
  /** Absolute path of the file the config came from; null when it came from elsewhere. */
  path: string | null;
}
