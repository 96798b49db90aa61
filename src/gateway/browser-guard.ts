// Browsers must not be a way in. A browser remembers HTTP Basic credentials (the
// pass-through takes the token that way) and sends them on requests any web page
// starts, and a prompt sent to a workspace runs tools there; a loopback listener does
// not help, since the browser runs on the same host. So before the token is looked at,
// the gateway refuses, on every route:
// - a Host that is not its own address: DNS rebinding points a name the attacker owns
//   at 127.0.0.1, and the browser then sends `Host: that-name:PORT`. On a unix socket
//   there is no name to rebind, so any Host is fine there.
// - an Origin that is neither its own nor in gateway.allowedOrigins (`null` included).
// - without an allowed Origin, a Sec-Fetch-Site other than same-origin or none: that is
//   how a browser marks a cross-site (or sibling-subdomain) navigation or GET, which
//   carries no Origin.
// Clients that are not browsers (curl, the SDK in Node, `opencode attach`) send neither
// Origin nor Sec-Fetch-Site and always the right Host, so they never notice this.
// It runs on every request: everything is looked up in sets built once.
import type { IncomingHttpHeaders } from 'node:http';
import { ForbiddenHostError, ForbiddenOriginError, type WarrenError } from '../errors.js';

export interface GuardPolicy {
  /** Host header values taken, lower case; null on a unix socket (any Host). */
  readonly hosts: ReadonlySet<string> | null;
  /** What to tell a client with another Host, e.g. "127.0.0.1:7391 or localhost:7391". */
  readonly hostHint: string;
  /** The gateway's own origins (http://<host>): a same-origin request carries one. */
  readonly ownOrigins: ReadonlySet<string>;
  /** gateway.allowedOrigins, serialized as browsers send them. */
  readonly allowedOrigins: ReadonlySet<string>;
}

export type Listening = { kind: 'unix' } | { kind: 'tcp'; address: string; port: number };

/**
 * The policy for a gateway listening where `at` says. A TCP gateway answers to its
 * address and to `localhost`, each with the port; without the port only when that is
 * 80, since a browser leaves out the default port and nothing else (RFC 9110 7.2).
 */
export function guardPolicy(at: Listening, allowedOrigins: readonly string[] = []): GuardPolicy {
  const allowed = new Set(allowedOrigins.map((o) => o.toLowerCase()));
  if (at.kind === 'unix') return { hosts: null, hostHint: '', ownOrigins: new Set(), allowedOrigins: allowed };
  const names = [at.address.includes(':') ? `[${at.address.toLowerCase()}]` : at.address, 'localhost'];
  const withPort = names.map((n) => `${n}:${at.port}`);
  const hosts = new Set(withPort);
  const ownOrigins = new Set<string>();
  for (const n of names) {
    if (at.port === 80) hosts.add(n);
    ownOrigins.add(`http://${at.port === 80 ? n : `${n}:${at.port}`}`);
  }
  return { hosts, hostHint: withPort.join(' or '), ownOrigins, allowedOrigins: allowed };
}

/** Why this request must be refused as a browser's, or null to go on. */
export function browserRefusal(headers: IncomingHttpHeaders, p: GuardPolicy): WarrenError | null {
  // No Host at all is an HTTP/1.0 client (Node answers 400 to HTTP/1.1 without one):
  // browsers always send it, so it cannot be a rebinding.
  const host = headers.host;
  if (p.hosts !== null && host !== undefined && !p.hosts.has(host) && !p.hosts.has(host.toLowerCase())) {
    return new ForbiddenHostError(host, p.hostHint);
  }
  const origin = headers.origin;
  if (origin !== undefined) {
    const o = origin.toLowerCase();
    if (p.allowedOrigins.has(o)) return null;
    if (!p.ownOrigins.has(o)) return new ForbiddenOriginError('Origin', origin);
  }
  const site = headers['sec-fetch-site'];
  if (site !== undefined && !SAME_ORIGIN.has(site) && !SAME_ORIGIN.has(site.toLowerCase())) {
    return new ForbiddenOriginError('Sec-Fetch-Site', site);
  }
  return null;
}

// `none` is a request the person made (typed the URL, a bookmark). `same-site` is not
// taken: a page on a sibling subdomain is not the gateway either.
const SAME_ORIGIN: ReadonlySet<string> = new Set(['same-origin', 'none']);
