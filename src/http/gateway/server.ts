// The gateway for the host agent: HTTP on a loopback address or a unix socket, a
// bearer token on every request. Routes (docs/integrator.md):
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
import type { Broker } from '../../broker/broker.js';
import { renderMetrics } from '../../broker/metrics.js';
import { LinkDownError, ListenError, ShuttingDownError, WarrenError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { tokenMatches } from './auth.js';
import { browserRefusal, guardPolicy, type GuardPolicy, type Listening } from './browser-guard.js';
import { getEvents, postAbort, postMessage, postPermission, postQuestion } from './messages.js';
import { proxy } from './proxy.js';
import { PromptOrder } from './prompt-order.js';
import { openapiDocument } from './openapi.js';
import { checkSessionId } from '../../opencode/locate.js';
import { listenPrivate, prepareSocketPath } from '../../broker/socket-file.js';
import { badRequest, readJson, sendError, sendJson } from './respond.js';

export interface GatewayOptions {
  listen: string;
  token: string;
  logger: Logger;
  /** gateway.allowedOrigins: browser origins not refused. Default none. */
  allowedOrigins?: readonly string[];
}

export interface Gateway {
  readonly address: string;
  /** Stops accepting, ends open message streams with an error event, closes the rest. */
  close(o?: { graceMs?: number }): Promise<void>;
}

const WS = '[A-Za-z0-9][A-Za-z0-9._-]{0,62}';
/** Exported for test/openapi.test.ts, which holds them against the OpenAPI document. */
export const ROUTES = {
  healthz: /^\/healthz$/,
  openapi: /^\/v1\/openapi\.json$/,
  metrics: /^\/metrics$/,
  workspaces: /^\/v1\/workspaces\/?$/,
  sessions: new RegExp(`^/v1/workspaces/(${WS})/sessions/?$`),
  messages: new RegExp(`^/v1/workspaces/(${WS})/sessions/([^/]+)/messages/?$`),
  run: new RegExp(`^/v1/workspaces/(${WS})/sessions/([^/]+)/messages/([^/]+)/(events|abort)/?$`),
  answer: new RegExp(`^/v1/workspaces/(${WS})/sessions/([^/]+)/(permissions|questions)/([^/]+)/?$`),
  opencode: new RegExp(`^/v1/workspaces/(${WS})/opencode(/.*)?$`),
  anyWorkspace: /^\/v1\/workspaces\/([^/]+)(\/.*)?$/,
};

const PASS_THROUGH_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  sendJson(res, 405, { error: { code: 'WARREN_ERR_BAD_REQUEST', message: `method not allowed; use ${allow}` } });
}

export async function startGateway(broker: Broker, o: GatewayOptions): Promise<Gateway> {
  const shutdown = new AbortController();
  const sockets = new Set<Socket>();
  const log = o.logger.child({ component: 'gateway' });
  const order = new PromptOrder();

  const requireUp = (name: string) => {
    const rt = broker.workspace(name);
    if (rt.link.state !== 'up') throw new LinkDownError(name, rt.link.state, rt.link.lastError?.message ?? null);
    return rt;
  };

  // Set once the server listens (the port may have been 0), which is before it takes a connection.
  let policy!: GuardPolicy;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const refusal = browserRefusal(req.headers, policy);
    if (refusal) throw refusal;
    if (shutdown.signal.aborted) throw new ShuttingDownError();
    // Liveness for supervisors and load balancers: no token, and nothing in the answer
    // but that the gateway answers (no workspaces, no versions).
    if (ROUTES.healthz.test((req.url ?? '/').split('?')[0]!)) {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
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
    let m: RegExpExecArray | null;
    if (ROUTES.openapi.test(path)) {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      return sendJson(res, 200, openapiDocument());
    }
    if (ROUTES.metrics.test(path)) {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      const text = renderMetrics(broker.status());
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(text);
      return;
    }
    if (ROUTES.workspaces.test(path)) {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      return sendJson(res, 200, { workspaces: broker.status().workspaces });
    }
    if ((m = ROUTES.sessions.exec(path))) {
      const name = m[1]!;
      if (method === 'GET') {
        const rt = requireUp(name);
        return sendJson(res, 200, { sessions: await rt.sessions() });
      }
      if (method === 'POST') {
        broker.workspace(name);
        const body = await readJson(req, 64 * 1024);
        for (const k of Object.keys(body)) if (k !== 'directory' && k !== 'title') throw badRequest(`unknown field ${JSON.stringify(k)}; use directory and title`);
        if (body.directory !== undefined && (typeof body.directory !== 'string' || !body.directory.startsWith('/'))) throw badRequest('"directory" must be an absolute path');
        if (body.title !== undefined && typeof body.title !== 'string') throw badRequest('"title" must be a string');
        const rt = requireUp(name);
        const session = await rt.createSession({
          ...(body.directory !== undefined ? { directory: body.directory as string } : {}),
          ...(body.title !== undefined ? { title: body.title as string } : {}),
        });
        return sendJson(res, 201, session);
      }
      return methodNotAllowed(res, 'GET, POST');
    }
    if ((m = ROUTES.messages.exec(path))) {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      broker.workspace(m[1]!);
      checkSessionId(decodeURIComponent(m[2]!));
      requireUp(m[1]!);
      return postMessage(broker, m[1]!, decodeURIComponent(m[2]!), req, res, shutdown.signal);
    }
    if ((m = ROUTES.run.exec(path))) {
      const key = { workspace: m[1]!, sessionID: decodeURIComponent(m[2]!), messageID: decodeURIComponent(m[3]!) };
      const verb = m[4]!;
      if (verb === 'events' && method !== 'GET') return methodNotAllowed(res, 'GET');
      if (verb === 'abort' && method !== 'POST') return methodNotAllowed(res, 'POST');
      broker.workspace(key.workspace);
      requireUp(key.workspace);
      return verb === 'events' ? getEvents(broker, key, req, res, shutdown.signal) : postAbort(broker, key, res);
    }
    if ((m = ROUTES.answer.exec(path))) {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      const [name, sessionID, kind, requestID] = [m[1]!, decodeURIComponent(m[2]!), m[3]!, decodeURIComponent(m[4]!)];
      requireUp(name);
      return kind === 'permissions' ? postPermission(broker, name, sessionID, requestID, req, res) : postQuestion(broker, name, sessionID, requestID, req, res);
    }
    if ((m = ROUTES.opencode.exec(path))) {
      // opencode's API uses these; TRACE and WebDAV's methods have no business there.
      if (!PASS_THROUGH_METHODS.includes(method)) return methodNotAllowed(res, PASS_THROUGH_METHODS.join(', '));
      const rt = requireUp(m[1]!);
      return proxy(rt, m[2] ?? '/', url.search, req, res, order);
    }
    if ((m = ROUTES.anyWorkspace.exec(path))) {
      broker.workspace(decodeURIComponent(m[1]!));
    }
    sendJson(res, 404, { error: { code: 'WARREN_ERR_NO_ROUTE', message: `no route ${method} ${path}` } });
  };

  // Slow or endless request headers must not hold a connection (slowloris): Node
  // checks these every connectionsCheckingInterval, 30 s unless set.
  const server: Server = createServer({ headersTimeout: 10_000, requestTimeout: 60_000, connectionsCheckingInterval: 1000, keepAliveTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!(err instanceof WarrenError)) log.error({ err }, 'gateway request failed');
      else log.debug({ code: err.code, path: req.url }, 'gateway request refused');
      sendError(res, err);
    });
  });
  server.once('listening', () => { policy = guardPolicy(listeningAt(server), o.allowedOrigins); });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  const address = await listen(server, o.listen);
  log.info({ listen: address }, 'gateway listening');
  return {
    address,
    close: async ({ graceMs = 5000 } = {}) => {
      shutdown.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => { for (const s of sockets) s.destroy(); }, graceMs);
      await closed;
      clearTimeout(timer);
      if (o.listen.startsWith('/')) fs.rmSync(o.listen, { force: true });
    },
  };
}

function hasDotSegment(rawPath: string): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return true;
  }
  return decoded.split(/[/\\]/).some((seg) => seg === '.' || seg === '..');
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
