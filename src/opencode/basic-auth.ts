// The Authorization header `opencode serve` takes once OPENCODE_SERVER_PASSWORD is set:
// HTTP Basic with opencode's default user name, which warren never changes (it sets no
// OPENCODE_SERVER_USERNAME). One place, so the health check, the server's own requests
// and the SDK client cannot come to disagree on it.
export function opencodeAuthorization(password: string): string {
  return `Basic ${Buffer.from(`opencode:${password}`).toString('base64')}`;
}
