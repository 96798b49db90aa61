// From parsed JSON to a WarrenConfig, or one ConfigError naming the key and the
// problem. Messages say what was expected and the type that was found; values are
// shown only where they cannot be secrets (numbers, levels, listen addresses), and
// the token never. Everything user-supplied that reaches a message is escaped so the
// message stays one line.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { escapeUnsafe, UNSAFE } from '../text.js';
import { ORIGIN_EXAMPLE, parseOrigin } from './origin.js';
import {
  DEFAULTS, LOG_LEVELS,
  type GatewayConfig, type KeepaliveConfig, type LogLevel, type OpencodeConfig, type TransportConfig,
  type WarrenConfig, type WorkspaceConfig,
} from './schema.js';

type Seg = string | number;
type At = readonly Seg[];
type Obj = Record<string, unknown>;

const TOP_KEYS = ['workspaces', 'gateway', 'logLevel', '$schema'];
const WORKSPACE_KEYS = ['host', 'port', 'user', 'privateKeyPath', 'hostKeyFingerprint', 'importFrom', 'transport', 'opencode', 'keepalive'];
const OPENCODE_KEYS = ['port', 'command', 'idleTimeoutMs', 'startTimeoutMs'];
const KEEPALIVE_KEYS = ['intervalMs', 'timeoutMs'];
const GATEWAY_KEYS = ['listen', 'token', 'tokenFile', 'stateDir', 'allowedOrigins'];

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const USER = /^[a-z_][a-z0-9_.-]{0,31}$/i;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const FINGERPRINT_SHAPE = 'must be "SHA256:" and 43 base64 characters, as ssh-keygen -lf prints it, e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
const MAX_IMPORT_FROM = 32;
const MAX_ALLOWED_ORIGINS = 64;
// setTimeout turns anything longer into 1 ms, so a longer timeout would fire at once.
const MAX_TIMER_MS = 2_147_483_647;
// sun_path is 108 bytes on Linux, one of them the terminating NUL.
const MAX_SOCKET_PATH_BYTES = 107;

/** A JSON string literal of s that is also safe on one line of a terminal or log. */
export function quote(s: string): string {
  return escapeUnsafe(JSON.stringify(s));
}

/** s itself when it is harmless to print, else quoted. */
export function printable(s: string): string {
  return UNSAFE.test(s) ? quote(s) : s;
}

/** The JSON path of a key: workspaces.alpha.importFrom[0], or workspaces["a b"] for names that need quoting. */
export function formatKeyPath(at: At): string {
  let out = '';
  for (const seg of at) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_$-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${quote(seg)}]`;
  }
  return out;
}

/** Why a file could not be used, in words, from a Node fs error. */
export function fsReason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException | null)?.code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'ENOTDIR': return 'no such file (part of the path is not a directory)';
    case 'EISDIR': return 'it is a directory';
    case 'ELOOP': return 'too many levels of symbolic links';
    case 'ENAMETOOLONG': return 'path too long';
    default: return (err as NodeJS.ErrnoException | null)?.code ?? 'unknown error';
  }
}

function fail(at: At, problem: string, cause?: unknown): never {
  throw new ConfigError(at.length === 0 ? null : formatKeyPath(at), problem, cause);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string': return 'a string';
    case 'number': return 'a number';
    case 'boolean': return 'a boolean';
    case 'object': return 'an object';
    default: return typeof v;
  }
}

/** What was found, with the value only for non-secret scalars. */
function got(v: unknown, showValue: boolean): string {
  if (!showValue) return typeName(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return quote(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return typeName(v);
}

function get(o: Obj, k: string): unknown {
  return Object.hasOwn(o, k) ? o[k] : undefined;
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function object(v: unknown, at: At): Obj {
  if (!isObject(v)) fail(at, `must be an object (got ${typeName(v)})`);
  return v;
}

function array(v: unknown, at: At, what: string): unknown[] {
  if (!Array.isArray(v)) fail(at, `must be an array of ${what} (got ${typeName(v)})`);
  return v;
}

function string(v: unknown, at: At, what: string): string {
  if (typeof v !== 'string') fail(at, `must be ${what} (got ${typeName(v)})`);
  return v;
}

function required(o: Obj, k: string, at: At, what: string): unknown {
  const v = get(o, k);
  if (v === undefined) fail([...at, k], `required key is missing (${what})`);
  return v;
}

/** Optimal string alignment distance, ignoring case: a typo's distance to the key meant. */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

export function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = 3;
  // Long keys would otherwise drag the matrix to any size a file cares to have.
  if (word.length > 64) return null;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD && d < c.length) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

function onlyKeys(o: Obj, allowed: readonly string[], at: At): void {
  for (const k of Object.keys(o)) {
    if (allowed.includes(k)) continue;
    const near = closest(k, allowed);
    fail([...at, k], near === null
      ? `unknown key (known keys here: ${allowed.join(', ')})`
      : `unknown key; did you mean "${near}"?`);
  }
}

function integer(v: unknown, at: At, min: number, max: number, unit = ''): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    fail(at, `must be a whole number${unit} from ${min} to ${max} (got ${got(v, true)})`);
  }
  return v;
}

function timeoutMs(v: unknown, at: At, min: number, max = MAX_TIMER_MS): number {
  if (max === MAX_TIMER_MS && typeof v === 'number' && v > max) {
    fail(at, `must be at most ${max} milliseconds, about 24.8 days, the longest timer Node can set (got ${v})`);
  }
  return integer(v, at, min, max, ' of milliseconds');
}

/** A string that is one line and can be passed to a process: no NUL, no line breaks. */
function oneLine(s: string, at: At): string {
  if (s.includes('\0')) fail(at, 'must not contain a NUL byte');
  if (/[\r\n]/.test(s)) fail(at, 'must not contain a line break');
  return s;
}

export function validateConfig(raw: unknown, o: { baseDir: string; path: string | null }): WarrenConfig {
  if (!isObject(raw)) fail([], `the config must be a JSON object (got ${typeName(raw)})`);
  onlyKeys(raw, TOP_KEYS, []);
  const schema = get(raw, '$schema');
  if (schema !== undefined) string(schema, ['$schema'], 'a string (a JSON schema URL)');
  const workspaces = workspacesOf(required(raw, 'workspaces', [], 'the workspaces to connect to, by name'), o.baseDir);
  const gateway = gatewayOf(get(raw, 'gateway'), ['gateway']);
  const level = get(raw, 'logLevel');
  let logLevel: LogLevel = DEFAULTS.logLevel;
  if (level !== undefined) {
    if (typeof level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(level)) {
      const near = typeof level === 'string' ? closest(level, LOG_LEVELS) : null;
      fail(['logLevel'], `must be one of ${LOG_LEVELS.join(', ')} (got ${got(level, true)})${near === null ? '' : `; did you mean "${near}"?`}`);
    }
    logLevel = level as LogLevel;
  }
  return { workspaces, gateway, logLevel, path: o.path };
}

function workspacesOf(v: unknown, baseDir: string): Map<string, WorkspaceConfig> {
  const at = ['workspaces'];
  const all = object(v, at);
  const names = Object.keys(all);
  if (names.length === 0) fail(at, 'must name at least one workspace');
  // Names are checked before any workspace's contents, so a misnamed workspace is
  // reported as that rather than as whatever else is wrong inside it.
  const byFolded = new Map<string, string>();
  for (const name of names) {
    if (!NAME.test(name)) {
      fail([...at, name], 'is not a valid workspace name: use 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit (names appear in URLs, logs and remote commands)');
    }
    const other = byFolded.get(name.toLowerCase());
    if (other !== undefined) fail([...at, name], `duplicate workspace name: differs from "${other}" only by case`);
    byFolded.set(name.toLowerCase(), name);
  }
  const out = new Map<string, WorkspaceConfig>();
  for (const name of names) out.set(name, workspaceOf(name, all[name], [...at, name], baseDir));
  return out;
}

function workspaceOf(name: string, v: unknown, at: At, baseDir: string): WorkspaceConfig {
  const w = object(v, at);
  onlyKeys(w, WORKSPACE_KEYS, at);
  const transport = transportOf(get(w, 'transport'), [...at, 'transport']);
  const hostV = transport.kind === 'tcp' ? required(w, 'host', at, 'the sshd host name or address') : get(w, 'host');
  const portV = get(w, 'port');
  return {
    name,
    host: hostV === undefined ? '' : hostOf(hostV, [...at, 'host']),
    port: portV === undefined ? DEFAULTS.port : integer(portV, [...at, 'port'], 1, 65535),
    user: userOf(required(w, 'user', at, 'the ssh login name'), [...at, 'user']),
    privateKeyPath: keyFileOf(required(w, 'privateKeyPath', at, 'the private key file to log in with'), [...at, 'privateKeyPath'], baseDir),
    hostKeyFingerprint: fingerprintOf(required(w, 'hostKeyFingerprint', at, 'the pinned SHA256 fingerprint of the workspace sshd host key'), [...at, 'hostKeyFingerprint']),
    importFrom: importFromOf(get(w, 'importFrom'), [...at, 'importFrom']),
    transport,
    opencode: opencodeOf(get(w, 'opencode'), [...at, 'opencode']),
    keepalive: keepaliveOf(get(w, 'keepalive'), [...at, 'keepalive']),
  };
}

function hostOf(v: unknown, at: At): string {
  const s = string(v, at, 'a host name or IP address');
  if (s === '') fail(at, 'must not be empty');
  if (s.length > 253) fail(at, `must be at most 253 characters (got ${s.length})`);
  if (/[\s\u0000-\u001f\u007f-\u009f]/.test(s)) fail(at, 'must not contain whitespace or control characters');
  if (s.startsWith('-')) fail(at, 'must not start with "-"');
  if (s.startsWith('[')) fail(at, 'write IPv6 addresses without brackets (the port goes in "port")');
  return s;
}

function userOf(v: unknown, at: At): string {
  const s = string(v, at, 'a user name');
  if (!USER.test(s)) fail(at, 'is not a valid user name: 1 to 32 letters, digits, "_", "." or "-", starting with a letter or "_"');
  return s;
}

function keyFileOf(v: unknown, at: At, baseDir: string): string {
  const s = string(v, at, 'a file path');
  if (s === '') fail(at, 'must not be empty');
  oneLine(s, at);
  if (s.startsWith('~')) fail(at, '"~" is not expanded here: write the full path');
  const abs = path.resolve(baseDir, s);
  try {
    fs.accessSync(abs, fs.constants.R_OK);
  } catch (err) {
    fail(at, `cannot read ${printable(abs)}: ${fsReason(err)}`, err);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (err) {
    fail(at, `cannot read ${printable(abs)}: ${fsReason(err)}`, err);
  }
  if (st.isDirectory()) fail(at, `${printable(abs)} is a directory, not a private key file`);
  if (!st.isFile()) fail(at, `${printable(abs)} is not a regular file`);
  return abs;
}

function fingerprintOf(v: unknown, at: At): string {
  const s = string(v, at, 'a string like "SHA256:" and 43 base64 characters');
  if (FINGERPRINT.test(s)) return s;
  let hint = '';
  if (/^(MD5:)?([0-9a-f]{2}:){15}[0-9a-f]{2}$/i.test(s)) {
    hint = '; this is an MD5 fingerprint: print the SHA256 one with ssh-keygen -lf -E sha256 <public key file>';
  } else if (/^[A-Za-z0-9+/]{43}$/.test(s)) {
    hint = '; the "SHA256:" prefix is missing';
  } else if (/^sha256:[A-Za-z0-9+/]{43}$/i.test(s)) {
    hint = '; write the prefix as "SHA256:"';
  } else if (/^SHA256:[A-Za-z0-9+/]{43}=$/.test(s)) {
    hint = '; remove the trailing "=" padding';
  } else if (/(^|\s)SHA256:[A-Za-z0-9+/]{43}(\s|$)/.test(s)) {
    hint = '; give only the SHA256:... part of ssh-keygen\'s output';
  } else if (s.startsWith('SHA256:')) {
    hint = ` (got ${s.length - 7} characters after "SHA256:")`;
  }
  fail(at, FINGERPRINT_SHAPE + hint);
}

function importFromOf(v: unknown, at: At): string[] {
  if (v === undefined) return [...DEFAULTS.importFrom];
  const list = array(v, at, 'absolute directory paths inside the workspace');
  if (list.length > MAX_IMPORT_FROM) fail(at, `must list at most ${MAX_IMPORT_FROM} directories (got ${list.length})`);
  return list.map((item, i) => {
    const s = string(item, [...at, i], 'an absolute directory path inside the workspace');
    oneLine(s, [...at, i]);
    if (!path.posix.isAbsolute(s)) fail([...at, i], 'must be an absolute path (it names a directory inside the workspace)');
    return s;
  });
}

function transportOf(v: unknown, at: At): TransportConfig {
  if (v === undefined) return { kind: 'tcp' };
  const t = object(v, at);
  const kind = required(t, 'kind', at, '"tcp" or "command"');
  if (kind === 'tcp') {
    onlyKeys(t, ['kind'], at);
    return { kind: 'tcp' };
  }
  if (kind !== 'command') fail([...at, 'kind'], `must be "tcp" or "command" (got ${got(kind, true)})`);
  onlyKeys(t, ['kind', 'argv'], at);
  const argvAt = [...at, 'argv'];
  const argv = array(required(t, 'argv', at, 'the command that connects to sshd\'s stdin and stdout'), argvAt, 'non-empty strings');
  if (argv.length === 0) fail(argvAt, 'must have at least one element, the program to run');
  return {
    kind: 'command',
    argv: argv.map((a, i) => {
      const s = string(a, [...argvAt, i], 'a non-empty string');
      if (s === '') fail([...argvAt, i], 'must not be empty');
      if (s.includes('\0')) fail([...argvAt, i], 'must not contain a NUL byte');
      return s;
    }),
  };
}

function opencodeOf(v: unknown, at: At): OpencodeConfig {
  const out = { ...DEFAULTS.opencode };
  if (v === undefined) return out;
  const o = object(v, at);
  onlyKeys(o, OPENCODE_KEYS, at);
  const port = get(o, 'port');
  if (port !== undefined) out.port = integer(port, [...at, 'port'], 1, 65535);
  const command = get(o, 'command');
  if (command !== undefined) {
    const s = string(command, [...at, 'command'], 'a non-empty string');
    if (s === '') fail([...at, 'command'], 'must not be empty');
    out.command = oneLine(s, [...at, 'command']);
  }
  const idle = get(o, 'idleTimeoutMs');
  if (idle !== undefined) out.idleTimeoutMs = timeoutMs(idle, [...at, 'idleTimeoutMs'], 1000);
  const start = get(o, 'startTimeoutMs');
  if (start !== undefined) out.startTimeoutMs = timeoutMs(start, [...at, 'startTimeoutMs'], 1000);
  return out;
}

function keepaliveOf(v: unknown, at: At): KeepaliveConfig {
  const out = { ...DEFAULTS.keepalive };
  if (v === undefined) return out;
  const k = object(v, at);
  onlyKeys(k, KEEPALIVE_KEYS, at);
  const interval = get(k, 'intervalMs');
  if (interval !== undefined) out.intervalMs = timeoutMs(interval, [...at, 'intervalMs'], 100, 60_000);
  const timeout = get(k, 'timeoutMs');
  if (timeout !== undefined) out.timeoutMs = timeoutMs(timeout, [...at, 'timeoutMs'], 100, 120_000);
  return out;
}

function gatewayOf(v: unknown, at: At): GatewayConfig {
  const out: GatewayConfig = { ...DEFAULTS.gateway, allowedOrigins: [] };
  if (v === undefined) return out;
  const g = object(v, at);
  onlyKeys(g, GATEWAY_KEYS, at);
  const listen = get(g, 'listen');
  if (listen !== undefined) out.listen = listenOf(listen, [...at, 'listen']);
  const token = get(g, 'token');
  if (token !== undefined && token !== null) out.token = tokenOf(token, [...at, 'token']);
  const tokenFile = get(g, 'tokenFile');
  if (tokenFile !== undefined && tokenFile !== null) {
    const s = oneLine(string(tokenFile, [...at, 'tokenFile'], 'an absolute file path'), [...at, 'tokenFile']);
    if (!path.isAbsolute(s)) fail([...at, 'tokenFile'], 'must be an absolute path');
    out.tokenFile = s;
  }
  const stateDir = get(g, 'stateDir');
  if (stateDir !== undefined && stateDir !== null) {
    const s = oneLine(string(stateDir, [...at, 'stateDir'], 'an absolute directory path'), [...at, 'stateDir']);
    if (!path.isAbsolute(s)) fail([...at, 'stateDir'], 'must be an absolute path');
    out.stateDir = s;
  }
  const origins = get(g, 'allowedOrigins');
  if (origins !== undefined) out.allowedOrigins = allowedOriginsOf(origins, [...at, 'allowedOrigins']);
  return out;
}

function allowedOriginsOf(v: unknown, at: At): string[] {
  const list = array(v, at, `origins, ${ORIGIN_EXAMPLE}`);
  if (list.length > MAX_ALLOWED_ORIGINS) fail(at, `must list at most ${MAX_ALLOWED_ORIGINS} origins (got ${list.length})`);
  return list.map((item, i) => {
    const s = string(item, [...at, i], `an origin, ${ORIGIN_EXAMPLE}`);
    const o = parseOrigin(s, got(s, true));
    if ('problem' in o) fail([...at, i], o.problem);
    return o.origin;
  });
}

// The token's value never reaches a message, not even its length.
function tokenOf(v: unknown, at: At): string {
  const s = string(v, at, 'a string');
  if (!/^[\x21-\x7e]*$/.test(s)) fail(at, 'must be printable ASCII without spaces (it is sent in an HTTP Authorization header)');
  // Short tokens load (the spec's own example is "change-me"); the daemon warns
  // about them at start. An empty one would let any header through.
  if (s.length === 0) fail(at, 'is empty: leave token out to have one generated, or give a long random one (e.g. openssl rand -base64 32)');
  return s;
}

function listenOf(v: unknown, at: At): string {
  const s = string(v, at, 'a string, "HOST:PORT" or an absolute unix socket path');
  if (s.startsWith('/')) {
    oneLine(s, at);
    if (s.endsWith('/')) fail(at, 'names a directory: give the path of the socket file');
    const bytes = Buffer.byteLength(s);
    if (bytes > MAX_SOCKET_PATH_BYTES) fail(at, `unix socket paths can be at most ${MAX_SOCKET_PATH_BYTES} bytes (got ${bytes})`);
    return s;
  }
  const m = /^(\[[^\]]*\]|[^:[\]]*):([0-9]+)$/.exec(s);
  if (!m) {
    const hint = (s.match(/:/g)?.length ?? 0) > 1 && !s.startsWith('[') ? '; write IPv6 addresses in brackets, e.g. [::1]:7391' : '';
    fail(at, `must be HOST:PORT (e.g. 127.0.0.1:7391) or an absolute unix socket path (got ${got(s, true)})${hint}`);
  }
  const host = m[1]!;
  const port = m[2]!;
  if (!isLoopback(host)) {
    fail(at, `must be a loopback address or a unix socket path (the gateway never listens on other interfaces); got host ${got(host, true)}`);
  }
  if (!/^[1-9][0-9]{0,4}$/.test(port) || Number(port) > 65535) fail(at, `port must be a whole number from 1 to 65535 (got ${got(port, true)})`);
  return s;
}

function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost' || host === '[::1]') return true;
  const m = /^127\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$/.exec(host);
  // Leading zeros are refused: some resolvers read them as octal.
  return m !== null && m.slice(1).every((o) => Number(o) <= 255 && !/^0[0-9]/.test(o));
}
