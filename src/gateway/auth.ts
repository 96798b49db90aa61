// The gateway token: compared in constant time (hashes of equal length, so neither
// the content nor the length leaks through timing). As a bearer token everywhere;
// on the pass-through also as the password of HTTP Basic auth (any username), since
// that is all OpenCode's own clients send (`opencode attach <url> -p <password>`).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export function tokenMatches(req: IncomingMessage, token: string, o: { basic?: boolean } = {}): boolean {
  return authorizationMatches(req.headers.authorization, token, o);
}

/** The same check on an Authorization header's value (the fast lane reads heads itself). */
export function authorizationMatches(authorization: string | undefined, token: string, o: { basic?: boolean } = {}): boolean {
  const header = authorization ?? '';
  const { given, found } = presented(header, o.basic ?? false);
  const a = createHash('sha256').update(given ?? '').digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b) && found;
}

/** The token a header presents: a bearer token, or (where allowed) a Basic password. */
function presented(header: string, basic: boolean): { given: string; found: boolean } {
  const bearer = /^Bearer (.+)$/i.exec(header);
  if (bearer) return { given: bearer[1]!, found: true };
  const b = basic ? /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header) : null;
  const decoded = b ? Buffer.from(b[1]!, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  return colon < 0 ? { given: '', found: false } : { given: decoded.slice(colon + 1), found: true };
}
