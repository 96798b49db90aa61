// An entry of gateway.allowedOrigins, checked against what a browser can send in
// `Origin`: scheme://host[:port] and nothing after. Anything else would never match,
// and the operator would be left wondering why the UI is refused; so it is a config
// error. What is kept is the URL parser's serialization (lower case, no default port,
// punycode), which is how browsers write Origin, so the gateway compares strings.

export const ORIGIN_EXAMPLE = 'e.g. "https://ui.example.com"';

/** The origin as browsers send it, or what is wrong with `s` (`shown`: s as a message may show it). */
export function parseOrigin(s: string, shown: string): { origin: string } | { problem: string } {
  if (s === 'null') return { problem: 'cannot be "null": browsers send that for sandboxed frames, file: pages and redirects, so it would let any of them in' };
  if (s.includes('*')) return { problem: `wildcards are not supported: list each origin, ${ORIGIN_EXAMPLE}` };
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#\\\s]+)(.*)$/s.exec(s);
  if (!m) return { problem: `must be an origin, scheme://host[:port], ${ORIGIN_EXAMPLE} (got ${shown})` };
  if (m[3] === '/') return { problem: `must be an origin without a path: remove the trailing "/" (got ${shown})` };
  if (m[3] !== '') return { problem: `must be an origin, scheme://host[:port], without a path, query or fragment (got ${shown})` };
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return { problem: `must be an http or https origin (got ${shown})` };
  if (m[2]!.includes('@')) return { problem: 'must not contain a user name or password' };
  try {
    return { origin: new URL(s).origin };
  } catch {
    return { problem: `is not a valid origin: the host or port is malformed (got ${shown})` };
  }
}
