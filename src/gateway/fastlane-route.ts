// Which requests the fast lane (fastlane.ts) may pass through as bytes, and the
// head it sends on for them. Only the plainest pass-through qualifies: HTTP/1.1 GET
// or HEAD without a body, a target under /v1/workspaces/:ws/opencode/ that URL
// parsing would leave as it is, every check server.ts and proxy.ts make already
// passing (browser guard, token, path checks), the link up, the server running and
// the session known (WorkspaceRuntime.readyNow). Not an event stream, no Upgrade,
// no Expect, no header that Node would read differently from us (a repeated Host,
// Authorization, Origin...). Anything else returns null and the request takes the
// long way (Node's HTTP server, proxy.ts), which also makes every error answer:
// the fast lane never answers an error of its own but a malformed head.
import type { Broker } from '../broker/broker.js';
import type { WorkspaceRuntime } from '../broker/workspace.js';
import { isSessionId } from '../opencode/ids.js';
import { authorizationMatches } from './auth.js';
import { browserRefusal, type GuardPolicy } from './browser-guard.js';
import type { RequestHead } from './head-parser.js';
import { EVENTS, hasDotSegment, proxiedPath, SESSION_ROUTE } from './proxy.js';
import { ROUTES } from './routes.js';
import { HOP } from './upstream.js';

export interface FastRequest {
  rt: WorkspaceRuntime;
  method: 'GET' | 'HEAD';
  /** The path and query inside opencode (proxiedPath). */
  target: string;
  /** The client's header lines minus hop-by-hop and credentials, serialized. */
  headerText: string;
  /** The client asked to close the connection after this response. */
  close: boolean;
}

export interface FastLaneChecks {
  token: string;
  policy: GuardPolicy;
  broker: Broker;
  shuttingDown: boolean;
}

/** Headers Node keeps one of (or we must see exactly one of) to judge the request as it would. */
const SINGLE = new Set(['host', 'authorization', 'origin', 'sec-fetch-site', 'sec-fetch-mode', 'connection', 'x-opencode-directory', 'content-length']);
/** Characters that URL parsing leaves as they are in a path and a query (special scheme): no quote, space, #, <, >, backslash... */
const PLAIN_TARGET = /^\/[A-Za-z0-9\-._~!$&()*+,;=:@/%?]*$/;

export function fastLaneOf(head: RequestHead, c: FastLaneChecks): FastRequest | null {
  if (c.shuttingDown || head.version !== '1.1' || (head.method !== 'GET' && head.method !== 'HEAD')) return null;
  if (head.transferEncoding || (head.contentLength !== null && head.contentLength !== 0)) return null;
  const one = new Map<string, string>();
  let keep = '';
  for (const h of head.headers) {
    if (h.lower === 'upgrade' || h.lower === 'expect' || h.lower === 'te' || h.lower === 'trailer') return null;
    if (SINGLE.has(h.lower)) {
      if (one.has(h.lower)) return null;
      one.set(h.lower, h.value);
    }
    if (!HOP.has(h.lower)) keep += `${h.name}: ${h.value}\r\n`;
  }
  const host = one.get('host');
  if (host === undefined) return null;
  const connection = (one.get('connection') ?? '').toLowerCase().split(',').map((s) => s.trim()).filter(Boolean);
  if (connection.some((tok) => tok !== 'keep-alive' && tok !== 'close')) return null;
  const target = head.target;
  if (!PLAIN_TARGET.test(target) || /%(?![0-9A-Fa-f]{2})/.test(target)) return null;
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  // new URL() drops a lone "?": so does this, so both lanes send the same target.
  const search = q < 0 || q === target.length - 1 ? '' : target.slice(q);
  const m = ROUTES.opencode.exec(path);
  if (!m || hasDotSegment(path)) return null;
  const headers = { host, origin: one.get('origin'), 'sec-fetch-site': one.get('sec-fetch-site') };
  if (browserRefusal(headers, c.policy) !== null) return null;
  if (!authorizationMatches(one.get('authorization'), c.token, { basic: true })) return null;
  let inner: string;
  try {
    inner = proxiedPath(m[2] ?? '/', search);
  } catch {
    return null;
  }
  if (EVENTS.test(inner)) return null;
  if (!c.broker.has(m[1]!)) return null;
  const rt = c.broker.workspace(m[1]!);
  const sessionID = SESSION_ROUTE.exec(inner)?.[1];
  if (!rt.readyNow(sessionID !== undefined && isSessionId(sessionID) ? sessionID : null)) return null;
  return { rt, method: head.method, target: inner, headerText: keep, close: connection.includes('close') };
}

/** The head sent to opencode: the target inside it, its own Host and password, the client's other headers. */
export function upstreamHead(f: FastRequest, cred: { authorization: string; host: string }): Buffer {
  return Buffer.from(`${f.method} ${f.target} HTTP/1.1\r\nhost: ${cred.host}\r\nauthorization: ${cred.authorization}\r\n${f.headerText}${f.close ? 'connection: close\r\n' : ''}\r\n`, 'latin1');
}
