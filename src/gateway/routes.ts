// The gateway's routes as one table, read top to bottom: a path pattern, and per
// method what answers it. The first pattern that matches owns the path; a method it
// lacks is a 405 naming the ones it has. server.ts does what every route shares
// (browser guard, token, path checks) before it looks here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Broker } from '../broker/broker.js';
import { renderMetrics } from '../broker/metrics.js';
import { WORKSPACE_NAME } from '../config/index.js';
import { checkSessionId } from '../opencode/locate.js';
import { parseUsageQuery } from '../broker/usage.js';
import { getEvents, postAbort, postMessage, postPermission, postQuestion } from './messages.js';
import { openapiDocument } from './openapi.js';
import type { PromptOrder } from './prompt-order.js';
import { proxy } from './proxy.js';
import { badRequest, readJson, sendJson } from './respond.js';

const WS = WORKSPACE_NAME;
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
  usage: new RegExp(`^/v1/workspaces/(${WS})/usage/?$`),
  opencode: new RegExp(`^/v1/workspaces/(${WS})/opencode(/.*)?$`),
  anyWorkspace: /^\/v1\/workspaces\/([^/]+)(\/.*)?$/,
};

/** What every handler may use: the request, its parsed URL, and the gateway's shared parts. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  broker: Broker;
  order: PromptOrder;
  shutdown: AbortSignal;
}

type Handler = (m: RegExpExecArray, c: RouteContext) => unknown;
interface Route { pattern: RegExp; methods: Record<string, Handler> }

/** The runtime of a workspace whose tunnel is up; 404 or 503 at once otherwise. */
function upRuntime(c: RouteContext, name: string) {
  const rt = c.broker.workspace(name);
  rt.assertUp();
  return rt;
}

async function createSession(m: RegExpExecArray, c: RouteContext): Promise<void> {
  const name = m[1]!;
  c.broker.workspace(name);
  const body = await readJson(c.req, 64 * 1024);
  for (const k of Object.keys(body)) if (k !== 'directory' && k !== 'title') throw badRequest(`unknown field ${JSON.stringify(k)}; use directory and title`);
  if (body.directory !== undefined && (typeof body.directory !== 'string' || !body.directory.startsWith('/'))) throw badRequest('"directory" must be an absolute path');
  if (body.title !== undefined && typeof body.title !== 'string') throw badRequest('"title" must be a string');
  const rt = upRuntime(c, name);
  const session = await rt.createSession({
    ...(body.directory !== undefined ? { directory: body.directory as string } : {}),
    ...(body.title !== undefined ? { title: body.title as string } : {}),
  });
  sendJson(c.res, 201, session);
}

function runKey(m: RegExpExecArray, c: RouteContext) {
  const key = { workspace: m[1]!, sessionID: decodeURIComponent(m[2]!), messageID: decodeURIComponent(m[3]!) };
  upRuntime(c, key.workspace);
  return key;
}

/** What a handler returns for a path whose verb another method serves: the table answers 405. */
const WRONG_METHOD = Symbol('wrong method');
/** A run's events take GET, its abort POST: one pattern, the verb in the path. */
const runVerb = (verb: 'events' | 'abort', h: Handler): Handler => (m, c) => (m[4] === verb ? h(m, c) : WRONG_METHOD);

function answer(m: RegExpExecArray, c: RouteContext): Promise<void> {
  const [name, sessionID, kind, requestID] = [m[1]!, decodeURIComponent(m[2]!), m[3]!, decodeURIComponent(m[4]!)];
  upRuntime(c, name);
  return kind === 'permissions' ? postPermission(c.broker, name, sessionID, requestID, c.req, c.res) : postQuestion(c.broker, name, sessionID, requestID, c.req, c.res);
}

/** GET .../usage?since=&by=: the spec's {since, rows}; words it cannot read are a 400 before anything is read. */
async function usage(m: RegExpExecArray, c: RouteContext): Promise<void> {
  const name = m[1]!;
  c.broker.workspace(name);
  const p = c.url.searchParams;
  for (const k of new Set(p.keys())) {
    if (k !== 'since' && k !== 'by') throw badRequest(`unknown query parameter ${JSON.stringify(k.slice(0, 40))}; use since and by`);
    if (p.getAll(k).length > 1) throw badRequest(`${k} given more than once`);
  }
  const q = parseUsageQuery(p.get('since') ?? undefined, p.get('by') ?? undefined);
  const rows = await upRuntime(c, name).usage(q);
  sendJson(c.res, 200, { since: new Date(q.since).toISOString(), rows });
}

function passThrough(m: RegExpExecArray, c: RouteContext): Promise<void> {
  return proxy(upRuntime(c, m[1]!), m[2] ?? '/', c.url.search, c.req, c.res, c.order);
}

// opencode's API uses these; TRACE and WebDAV's methods have no business there.
const PASS_THROUGH = Object.fromEntries(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((verb) => [verb, passThrough]));

/** Every route after /healthz (which needs no token, so server.ts answers it first). */
export const TABLE: Route[] = [
  { pattern: ROUTES.openapi, methods: { GET: (_m, c) => sendJson(c.res, 200, openapiDocument()) } },
  {
    pattern: ROUTES.metrics,
    methods: {
      GET: (_m, c) => {
        c.res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        c.res.end(renderMetrics(c.broker.status(), c.broker.usageTotals()));
      },
    },
  },
  { pattern: ROUTES.workspaces, methods: { GET: (_m, c) => sendJson(c.res, 200, { workspaces: c.broker.status().workspaces }) } },
  {
    pattern: ROUTES.sessions,
    methods: {
      GET: async (m, c) => sendJson(c.res, 200, { sessions: await upRuntime(c, m[1]!).sessions() }),
      POST: createSession,
    },
  },
  {
    pattern: ROUTES.messages,
    methods: {
      POST: (m, c) => {
        c.broker.workspace(m[1]!);
        checkSessionId(decodeURIComponent(m[2]!));
        upRuntime(c, m[1]!);
        return postMessage(c.broker, m[1]!, decodeURIComponent(m[2]!), c.req, c.res, c.shutdown);
      },
    },
  },
  {
    pattern: ROUTES.run,
    methods: {
      GET: runVerb('events', (m, c) => getEvents(c.broker, runKey(m, c), c.req, c.res, c.shutdown)),
      POST: runVerb('abort', (m, c) => postAbort(c.broker, runKey(m, c), c.res)),
    },
  },
  { pattern: ROUTES.answer, methods: { POST: answer } },
  { pattern: ROUTES.usage, methods: { GET: usage } },
  { pattern: ROUTES.opencode, methods: PASS_THROUGH },
];

/** Answers from the table; false when no route's pattern matches the path. */
export async function route(path: string, method: string, c: RouteContext): Promise<boolean> {
  for (const r of TABLE) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    const h = r.methods[method];
    if (!h || (await h(m, c)) === WRONG_METHOD) methodNotAllowed(c.res, allowed(r, m));
    return true;
  }
  return false;
}

function allowed(r: Route, m: RegExpExecArray): string {
  // A run's events take GET and its abort POST: name the one its verb serves.
  if (r.pattern === ROUTES.run) return m[4] === 'events' ? 'GET' : 'POST';
  return Object.keys(r.methods).join(', ');
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  sendJson(res, 405, { error: { code: 'WARREN_ERR_BAD_REQUEST', message: `method not allowed; use ${allow}` } });
}
