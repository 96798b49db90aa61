// What the loader checks beyond the schema, because JSON Schema cannot say it: the
// private key file is on this host and readable, the gateway listens on loopback only,
// an allowed origin is what a browser would send, workspace names do not differ only by
// case, and a wrong host key fingerprint gets a hint about what was pasted instead. The
// schema names these (its `loader` keyword); each runs after the schema's own rules pass.
import fs from 'node:fs';
import path from 'node:path';
import { fail, fsReason, got, printable, type At, type ConfigProblem } from './messages.js';
import { parseOrigin } from './origin.js';
import { fingerprintOfPublicKeyLine } from '../host-key.js';
import type { CheckName, HintName, KeyCheckName } from './schema.js';

export interface CheckContext {
  /** What relative paths in the file are relative to: the config file's directory. */
  baseDir: string;
  /** Every problem found so far, in the order the walker met them. */
  problems: ConfigProblem[];
}

// sun_path is 108 bytes on Linux, one of them the terminating NUL.
const MAX_SOCKET_PATH_BYTES = 107;

/** Checks of a string value that has passed the schema; each returns the value to keep. */
export const CHECKS: Record<CheckName, (s: string, at: At, cx: CheckContext) => string> = {
  keyFile(s, at, cx) {
    const abs = path.resolve(cx.baseDir, s);
    try {
      fs.accessSync(abs, fs.constants.R_OK);
    } catch (err) {
      fail(at, `cannot read ${printable(abs)}: ${fsReason(err)}`);
    }
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch (err) {
      fail(at, `cannot read ${printable(abs)}: ${fsReason(err)}`);
    }
    if (st.isDirectory()) fail(at, `${printable(abs)} is a directory, not a private key file`);
    if (!st.isFile()) fail(at, `${printable(abs)} is not a regular file`);
    return abs;
  },

  listen(s, at) {
    if (s.startsWith('/')) {
      if (s.includes('\0')) fail(at, 'must not contain a NUL byte');
      if (/[\r\n]/.test(s)) fail(at, 'must not contain a line break');
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
  },

  origin(s, at) {
    const o = parseOrigin(s, got(s, true));
    if ('problem' in o) fail(at, o.problem);
    return o.origin;
  },
};

/** Checks of an object's key against the keys before it. */
export const KEY_CHECKS: Record<KeyCheckName, (key: string, before: readonly string[], at: At, noun: string) => void> = {
  uniqueIgnoringCase(key, before, at, noun) {
    const other = before.find((b) => b.toLowerCase() === key.toLowerCase());
    if (other !== undefined) fail(at, `duplicate ${noun}: differs from "${other}" only by case`);
  },
};

/** What a value that failed its pattern probably is, appended to the pattern's message. */
export const HINTS: Record<HintName, (s: string, at: At) => string> = {
  fingerprint(s, at) {
    // A pasted public key (known_hosts, ssh-keyscan, a .pub file): its fingerprint is
    // computed here and told, not accepted, so the file always says what is pinned in
    // the one form ssh-keygen -lf and the mismatch error print.
    const computed = fingerprintOfPublicKeyLine(s);
    if (computed !== null) {
      const key = at.at(-1);
      const write = typeof key === 'string' ? `"${key}": "${computed}"` : `"${computed}" in the list`;
      return `; this is a public key (a known_hosts, ssh-keyscan or .pub line), not its fingerprint: write ${write}`;
    }
    if (/^(MD5:)?([0-9a-f]{2}:){15}[0-9a-f]{2}$/i.test(s)) return '; this is an MD5 fingerprint: print the SHA256 one with ssh-keygen -lf -E sha256 <public key file>';
    if (/^[A-Za-z0-9+/]{43}$/.test(s)) return '; the "SHA256:" prefix is missing';
    if (/^sha256:[A-Za-z0-9+/]{43}$/i.test(s)) return '; write the prefix as "SHA256:"';
    if (/^SHA256:[A-Za-z0-9+/]{43}=$/.test(s)) return '; remove the trailing "=" padding';
    if (/(^|\s)SHA256:[A-Za-z0-9+/]{43}(\s|$)/.test(s)) return '; give only the SHA256:... part of ssh-keygen\'s output';
    if (s.startsWith('SHA256:')) return ` (got ${s.length - 7} characters after "SHA256:")`;
    return '';
  },
};

function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost' || host === '[::1]') return true;
  const m = /^127\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$/.exec(host);
  // Leading zeros are refused: some resolvers read them as octal.
  return m !== null && m.slice(1).every((o) => Number(o) <= 255 && !/^0[0-9]/.test(o));
}
