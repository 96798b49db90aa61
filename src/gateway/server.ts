// The gateway for the host agent: HTTP on a loopback address or a unix socket, a
// bearer token on every request. Routes (routes.ts has the table; docs/integrator.md):
//   GET  /v1/workspaces                              status of each workspace
//   GET  /v1/workspaces/:ws/sessions                 every session
//   POST /v1/workspaces/:ws/sessions                 create {directory?, title?}
//   POST /v1/workspaces/:ws/sessions/:id/messages    {text} -> the run's event stream
//   GET  .../sessions/:id/messages/:msg/events       replay and follow a run
//   POST .../sessions/:id/messages/:msg/abort        end a run
//   POST .../sessions/:id/permissions/:req           answer a permission event
//   POST .../sessions/:id/questions/:req             answer a question event
//   ANY  /v1/workspaces/:ws/opencode/*               pass-through to opencode
//   GET  /metrics                                    Prometheus text
//   GET  /v1/openapi.json                            this list for machines (openapi.ts)
//   GET  /healthz                                    liveness, the one route without the token
// Before anything else, every route refuses what a browser sends for a page on another
// site or under a rebound name (browser-guard.ts), whatever the credentials.
// A workspace whose tunnel is down answers 503 at once; nothing waits on it.
import fs from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Broker } from '../broker/broker.js';
import { ListenError, ShuttingDownError, WarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import { tokenMatches } from './auth.js';
import { browserRefusal, guardPolicy, type GuardPolicy, type Listening } from './browser-guard.js';
import { FastLane } from './fastlane.js';
import { isLingering, LINGER } from './linger.js';
import { PromptOrder } from './prompt-order.js';
import { ROUTES, route } from './routes.js';
import { listenPrivate, prepareSocketPath } from '../broker/socket-file.js';
import { badRequest, sendError, sendJson } from './respond.js';
import { hasDotSegment } from './proxy.js';
import { RESPONSE_HEADERS_TIMEOUT_MS } from '../opencode/forward.js';

const HEADERS_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 30_000;

export interface GatewayOptions {
  listen: string;
  token: string;
  logger: Logger;
  /** gateway.allowedOrigins: browser origins not refused. Default none. */
  allowedOrigins?: readonly string[];
  /**
   * The fast lane for plain pass-through GETs and HEADs (fastlane.ts). Default: on,
   * unless the environment says WARREN_GATEWAY_FASTLANE=0 (docs/benchmarks.md has the A/B).
   */
  fastLane?: boolean;
}

export interface Gateway {
  readonly address: string;
  /** Stops accepting, ends open message streams with an error event, closes the rest. */
  close(o?: { graceMs?: number }): Promise<void>;
}

/** The route patterns, exported where they always were (test/openapi.test.ts). */
export { ROUTES } from './routes.js';

export async function startGateway(broker: Broker, o: GatewayOptions): Promise<Gateway> {
  const shutdown = new AbortController();
  const sockets = new Set<Socket>();
  const log = o.logger.child({ component: 'gateway' });
  const order = new PromptOrder();

  // Set once the server listens (the port may have been 0), which is before it takes a connection.
  let policy!: GuardPolicy;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const refusal = browserRefusal(req.headers, policy);
    if (refusal) throw refusal;
    if (shutdown.signal.aborted) throw new ShuttingDownError();
    // Liveness for supervisors and load balancers: no token, and nothing in the answer
    // but that the gateway answers (no workspaces, no versions).
    if (ROUTES.healthz.test((req.url ?? '/').split('?')[0]!)) {
      if (req.method !== 'GET') {
        res.setHeader('allow', 'GET');
        return sendJson(res, 405, { error: { code: 'WARREN_ERR_BAD_REQUEST', message: 'method not allowed; use GET' } });
      }
      return sendJson(res, 200, { ok: true });
    }
    const passThrough = ROUTES.opencode.test((req.url ?? '/').split('?')[0]!);
    if (!tokenMatches(req, o.token, { basic: passThrough })) {
      // A browser (it sends Sec-Fetch-Site; Node's fetch sends only Sec-Fetch-Mode)
      // offered Basic shows a login box and then remembers the token; OpenCode's clients
      // send Basic unasked, so they need no offer.
      const browser = req.headers['sec-fetch-site'] !== undefined || req.headers['sec-fetch-mode'] === 'navigate';
      const offerBasic = passThrough && !browser;
      res.setHeader('www-authenticate', offerBasic ? ['Bearer realm="warren"', 'Basic realm="warren"'] : 'Bearer realm="warren"');
      sendJson(res, 401, { error: { code: 'WARREN_ERR_UNAUTHORIZED', message: passThrough ? 'missing or wrong token (a bearer token, or the password of HTTP Basic auth)' : 'missing or wrong bearer token' } });
      return;
    }
    // The raw path, before any URL parsing: WHATWG URLs resolve "..", even encoded
    // as %2e%2e, which would quietly send a request to another route.
    const rawPath = (req.url ?? '/').split('?')[0]!;
    if (hasDotSegment(rawPath)) throw badRequest('the path may not contain "." or ".." segments');
    // URL parsing turns "\\" into "/", so the pass-through would never see one to refuse.
    if (rawPath.includes('\\')) throw badRequest('the path may not contain a backslash');
    const url = new URL(req.url ?? '/', 'http://gateway');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (await route(path, method, { req, res, url, broker, order, shutdown: shutdown.signal })) return;
    const m = ROUTES.anyWorkspace.exec(path);
    if (m) broker.workspace(decodeURIComponent(m[1]!));
    sendJson(res, 404, { error: { code: 'WARREN_ERR_NO_ROUTE', message: `no route ${method} ${path}` } });
  };

  // Slow or endless request headers must not hold a connection (slowloris): Node
  // checks these every connectionsCheckingInterval, 30 s unless set.
  const server: Server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: 60_000, connectionsCheckingInterval: 1000, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!(err instanceof WarrenError)) log.error({ err }, 'gateway request failed');
      else log.debug({ code: err.code, path: req.url }, 'gateway request refused');
      sendError(res, err);
    });
  });
  server.once('listening', () => { policy = guardPolicy(listeningAt(server), o.allowedOrigins); });
  // Node's own 'connection' listener starts its HTTP parser on the socket; the fast
  // lane reads the first head before it, and hands it the connection when it must.
  // Calling that listener is what emitting 'connection' does, which Node documents for
  // handing an HTTP server a socket; the bytes already read are unshifted back first.
  const nodeListeners = server.listeners('connection') as Array<(s: Socket) => void>;
  server.removeAllListeners('connection');
  const toNode = (s: Socket) => { for (const l of nodeListeners) l.call(server, s); };
  const lane = (o.fastLane ?? process.env.WARREN_GATEWAY_FASTLANE !== '0')
    ? new FastLane({
      token: o.token, policy: () => policy, broker, shutdown: shutdown.signal, handOver: toNode, logger: log,
      headersTimeoutMs: HEADERS_TIMEOUT_MS, keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS, responseHeadersTimeoutMs: RESPONSE_HEADERS_TIMEOUT_MS,
    })
    : null;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    if (lane) lane.accept(s);
    else toNode(s);
  });

  const address = await listen(server, o.listen);
  log.info({ listen: address }, 'gateway listening');
  return {
    address,
    close: async ({ graceMs = 5000 } = {}) => {
      shutdown.abort();
      lane?.shutdown();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => { for (const s of sockets) s.destroy(); }, graceMs);
      // Lingering sockets have their answer; only a client still sending holds them.
      const cut = setTimeout(() => { for (const s of sockets) if (isLingering(s)) s.destroy(); }, Math.min(LINGER.SHUTDOWN_MS, graceMs));
      await closed;
      clearTimeout(timer);
      clearTimeout(cut);
      if (o.listen.startsWith('/')) fs.rmSync(o.listen, { force: true });
    },
  };
}

function listeningAt(server: Server): Listening {
  const a = server.address();
  if (a === null) throw new Error('the gateway is not listening');
  return typeof a === 'string' ? { kind: 'unix' } : { kind: 'tcp', address: a.address, port: a.port };
}

function listen(server: Server, where: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => reject(new ListenError('gateway', where, err.code === 'EADDRINUSE' ? 'the address is in use' : err.message));
    server.once('error', fail);
    const done = () => {
      server.off('error', fail);
      resolve(where.startsWith('/') ? where : `${(server.address() as { address: string }).address}:${(server.address() as { port: number }).port}`);
    };
    if (where.startsWith('/')) {
      server.off('error', fail);
      prepareSocketPath(where, 'gateway').then(() => listenPrivate(server, where, 'gateway')).then(() => resolve(where), reject);
    } else {
      const i = where.lastIndexOf(':');
      const host = where.slice(0, i).replace(/^\[|\]$/g, '');
      server.listen(Number(where.slice(i + 1)), host === 'localhost' ? '127.0.0.1' : host, done);
    }
  });
}
