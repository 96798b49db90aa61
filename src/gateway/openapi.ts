// The gateway described for machines: an OpenAPI 3.1 document. This module is its one
// source of truth: GET /v1/openapi.json serves what openapiDocument() builds, and
// test/openapi.test.ts validates it and holds it against the router, both ways.
//
// It describes every route of the spec's Gateway section as the spec writes it, plus
// warren's own /metrics, /healthz and this document. What the code does not do yet
// (routes, headers, events, the HTTP Basic scheme) carries `x-warren-status: planned`;
// the test fails once a planned route is served, so the mark comes off with the code.
import { warrenVersion } from '../version.js';
import { DEFAULT_RETRY_AFTER_S, RETRY_AFTER_S } from './respond.js';

import { ERROR_CODES, PLANNED, errorBody, json, ref, schema, schemas, type Obj } from './openapi-parts.js';

export { ERROR_CODES, PLANNED };

const retryAfterText = [...new Set(Object.values(RETRY_AFTER_S))].sort((a, b) => a - b)
  .map((s) => `${s} for ${Object.entries(RETRY_AFTER_S).filter(([, v]) => v === s).map(([k]) => k.replace('WARREN_ERR_', '')).join(', ')}`)
  .join('; ');

const responses: Obj = {
  BadRequest: { description: 'A malformed body, field or header, a path with `.`/`..` segments, a backslash or bad percent-encoding, or not a session or message id.', content: json(errorBody(ERROR_CODES[400]!)) },
  Unauthorized: {
    description: 'Missing or wrong token. Answered before the body is read; the connection closes after it.',
    headers: { 'WWW-Authenticate': { schema: { type: 'string', const: 'Bearer realm="warren"' } } },
    content: json(errorBody(ERROR_CODES[401]!)),
  },
  Forbidden: {
    description: 'A browser\'s request for a page on another site (an `Origin` that is neither the gateway\'s own nor in `gateway.allowedOrigins`, `null` included; or `Sec-Fetch-Site` other than `same-origin`/`none` without an allowed `Origin`), or a `Host` that is not the gateway\'s address (DNS rebinding; any `Host` on a unix socket). Answered on every route before the token is looked at; the connection closes after it. Clients that are not browsers never get it.',
    content: json(errorBody(ERROR_CODES[403]!)),
  },
  NotFound: { description: 'No such workspace (`UNKNOWN_WORKSPACE`: also for a name outside `[A-Za-z0-9][A-Za-z0-9._-]{0,62}`), session or message, or no such route (`NO_ROUTE`).', content: json(errorBody(ERROR_CODES[404]!)) },
  MethodNotAllowed: {
    description: 'Wrong method for the route.',
    headers: { Allow: { schema: { type: 'string' }, description: 'The methods the route takes, e.g. `GET, POST`.', required: true } },
    content: json(errorBody(ERROR_CODES[405]!)),
  },
  Conflict: { description: '`SESSION_BUSY`: the session is still answering a message sent through this daemon; send the next one when that reply is `done`. `RUN_FINISHED`: the run to abort has already ended.', content: json(errorBody(ERROR_CODES[409]!)) },
  TooLarge: { description: 'The body is over the route\'s limit. Answered at once; the connection closes after it.', content: json(errorBody(ERROR_CODES[413]!)) },
  BadGateway: { description: 'The workspace\'s opencode server could not be started or used.', content: json(errorBody(ERROR_CODES[502]!)) },
  Unavailable: {
    description: 'Not now: the tunnel is not up (answered at once, nothing waits for it), it was lost mid-request, the daemon is draining, or another process holds the database a session is imported from. Retry after `Retry-After` seconds.',
    headers: { 'Retry-After': ref('headers', 'RetryAfter') },
    content: json(errorBody(ERROR_CODES[503]!)),
  },
  Internal: { description: 'An unexpected failure (`INTERNAL`: "internal error; see the daemon log"), or a code of a lower layer such as `CHANNEL_*`, `EXEC_*`, `LINK_CLOSED`.', content: json(errorBody(null)) },
};

/** The error answers every route under /v1/workspaces/{ws} can give, plus `extra`. */
function wsErrors(...extra: Array<[number, string]>): Obj {
  const out: Obj = {
    400: ref('responses', 'BadRequest'), 401: ref('responses', 'Unauthorized'), 403: ref('responses', 'Forbidden'), 404: ref('responses', 'NotFound'),
    405: ref('responses', 'MethodNotAllowed'), 503: ref('responses', 'Unavailable'), 500: ref('responses', 'Internal'),
  };
  for (const [status, name] of extra) out[status] = ref('responses', name);
  return out;
}

const sse = (description: string, headers?: Obj): Obj => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'text/event-stream': { schema: schema('RunEventStream') } },
});


// ---- parameters ----

const parameters: Obj = {
  ws: { name: 'ws', in: 'path', required: true, schema: schema('WorkspaceName'), description: 'A configured workspace.' },
  sessionID: { name: 'id', in: 'path', required: true, schema: schema('SessionID') },
  messageID: { name: 'messageID', in: 'path', required: true, schema: schema('MessageID'), description: 'From the run\'s `accepted` event (or `done`, or the `Location` header).' },
  requestID: { name: 'requestID', in: 'path', required: true, schema: { type: 'string', minLength: 1 }, description: 'The `id` of the `permission` or `question` event.' },
};

const PASS_THROUGH = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'] as const;

function passThrough(): Obj {
  const ops: Obj = {
    description: 'The rest of the path, `/` included, as opencode\'s API has it (`global/health`, `session/{id}/message`, `event`). `/v1/workspaces/{ws}/opencode` alone is opencode\'s `/`.',
    parameters: [ref('parameters', 'ws'), { name: 'path', in: 'path', required: true, schema: { type: 'string' }, description: 'Any path inside opencode\'s API; may contain `/`. `.`/`..` segments, backslashes and NUL are a 400.' }],
  };
  for (const m of PASS_THROUGH) {
    ops[m] = {
      operationId: `opencode${m[0]!.toUpperCase()}${m.slice(1)}`,
      tags: ['opencode'],
      summary: `${m.toUpperCase()} through to the workspace's opencode server`,
      description: [
        'Passes the request to the workspace\'s `opencode serve`, starting it if needed, so `@opencode-ai/sdk` can use',
        '`<gateway>/v1/workspaces/{ws}/opencode` as its baseUrl, and `opencode attach <that> -p <token>` works.',
        'Your Authorization is replaced by the server\'s own password. Hop-by-hop headers, `host` and `content-length`',
        'are dropped both ways; everything else passes (`x-opencode-directory` too). Bodies stream both ways (up to',
        '32 MiB up). opencode\'s status codes and bodies reach you unchanged; only failures to reach opencode answer in',
        'warren\'s error shape. A session the server does not know is imported before a `/session/{id}` request reaches',
        'it. `/event` and `/global/event` streams are held open across link drops and server restarts (subscribed again;',
        'a new `server.connected` marks the seam). A synchronous prompt\'s response comes after its completion has been',
        'delivered on the event streams passed for its directory (2 s at most). A prompt that found the server dead is',
        'sent again once it is back when it cannot be answered twice (warren adds a `messageID` where none is given).',
        'Methods other than GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS are a 405. Upgrades (WebSocket) are not passed.',
      ].join(' '),
      security: [{ bearer: [] }, { basic: [] }],
      ...(m === 'get' || m === 'head' ? {} : { requestBody: { required: false, description: 'Passed through as it is.', content: { '*/*': { schema: {} } } } }),
      responses: {
        default: { description: 'opencode\'s own answer, unchanged.', content: { '*/*': { schema: {} } } },
        ...wsErrors([413, 'TooLarge'], [502, 'BadGateway']),
      },
    };
  }
  return ops;
}

function paths(): Obj {
  const wsParams = [ref('parameters', 'ws')];
  const sesParams = [ref('parameters', 'ws'), ref('parameters', 'sessionID')];
  const msgParams = [...sesParams, ref('parameters', 'messageID')];
  const reqParams = [...sesParams, ref('parameters', 'requestID')];
  return {
    '/healthz': {
      get: {
        operationId: 'health', tags: ['operations'], security: [],
        summary: 'Liveness: the gateway answers',
        description: 'No token. The body says nothing else: no workspaces, no versions. While the daemon drains it is a 503 `SHUTTING_DOWN`.',
        responses: {
          200: { description: 'The gateway is up.', content: json({ type: 'object', required: ['ok'], additionalProperties: false, properties: { ok: { const: true } } }) },
          403: ref('responses', 'Forbidden'),
          405: ref('responses', 'MethodNotAllowed'),
          503: ref('responses', 'Unavailable'),
        },
      },
    },
    '/v1/openapi.json': {
      get: {
        operationId: 'openapi', tags: ['operations'],
        summary: 'This document',
        description: 'The OpenAPI 3.1 description of the gateway. Needs the token like every /v1 route; fetch it once.',
        responses: {
          200: { description: 'The document.', content: json({ type: 'object', required: ['openapi', 'info', 'paths'] }) },
          401: ref('responses', 'Unauthorized'), 403: ref('responses', 'Forbidden'), 405: ref('responses', 'MethodNotAllowed'), 503: ref('responses', 'Unavailable'),
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics', tags: ['operations'],
        summary: 'Prometheus metrics',
        description: 'Prometheus text exposition (docs/operator.md#metrics). No secret and no error message is in it.',
        responses: {
          200: { description: 'The metrics.', content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } } },
          401: ref('responses', 'Unauthorized'), 403: ref('responses', 'Forbidden'), 405: ref('responses', 'MethodNotAllowed'), 503: ref('responses', 'Unavailable'),
        },
      },
    },
    '/v1/workspaces': {
      get: {
        operationId: 'listWorkspaces', tags: ['workspaces'],
        summary: 'Status of each workspace',
        description: 'The same objects as `warren status --json`, without its `daemon` field.',
        responses: {
          200: { description: 'Every configured workspace.', content: json({ type: 'object', required: ['workspaces'], properties: { workspaces: { type: 'array', items: schema('WorkspaceStatus') } } }) },
          401: ref('responses', 'Unauthorized'), 403: ref('responses', 'Forbidden'), 405: ref('responses', 'MethodNotAllowed'), 503: ref('responses', 'Unavailable'), 500: ref('responses', 'Internal'),
        },
      },
    },
    '/v1/workspaces/{ws}/sessions': {
      parameters: wsParams,
      get: {
        operationId: 'listSessions', tags: ['sessions'],
        summary: 'Every session the workspace has',
        description: 'Top-level sessions of every project and directory, newest first: the server\'s own and those found only in an `importFrom` directory.',
        responses: {
          200: { description: 'The sessions.', content: json({ type: 'object', required: ['sessions'], properties: { sessions: { type: 'array', items: schema('SessionRow') } } }) },
          ...wsErrors([502, 'BadGateway']),
        },
      },
      post: {
        operationId: 'createSession', tags: ['sessions'],
        summary: 'Create a session',
        requestBody: { required: false, description: 'At most 64 KiB. Any other field is a 400.', content: json(schema('CreateSession')) },
        responses: {
          201: { description: 'opencode\'s session object.', content: json(schema('OpencodeSession')) },
          ...wsErrors([413, 'TooLarge'], [502, 'BadGateway']),
        },
      },
    },
    '/v1/workspaces/{ws}/sessions/{id}/messages': {
      parameters: sesParams,
      post: {
        operationId: 'sendMessage', tags: ['messages'],
        summary: 'Send a message; the run streams back as server-sent events',
        description: [
          'Resume-safe: the session is checked, imported if the server does not know it (404 if it exists nowhere), and',
          'events are taken from the session\'s own directory, all before the 200. One message per session at a time (409).',
          'The run belongs to warren, not to the HTTP connection: a caller that goes away does not stop it; resume with',
          '`GET` on the `Location` and `Last-Event-ID`, or end it with `POST .../abort`.',
        ].join(' '),
        parameters: [{
          name: 'Idempotency-Key', in: 'header', required: false,
          schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$' },
          description: 'The same key on the same session again (for at least 24 h, and across a daemon restart) sends nothing new: it answers with the first request\'s run, replayed from its start.',
        }],
        requestBody: { required: true, description: 'At most 1 MiB.', content: json(schema('SendMessage')) },
        responses: {
          200: sse('The run\'s events, `accepted` first, `done` or `error` last.', {
            Location: { required: true, description: 'The run\'s events: `/v1/workspaces/{ws}/sessions/{id}/messages/{messageID}/events`.', schema: { type: 'string' } },
          }),
          ...wsErrors([409, 'Conflict'], [413, 'TooLarge'], [502, 'BadGateway']),
        },
      },
    },
    '/v1/workspaces/{ws}/sessions/{id}/messages/{messageID}/events': {
      parameters: msgParams,
      get: {
        operationId: 'messageEvents', tags: ['messages'],
        summary: 'A run\'s events again, then live',
        description: 'A plain GET, so a browser `EventSource` works. With `Last-Event-ID: N` or `?after=N`, only the events after N, then live until `done`/`error`. A finished run replays and ends; a message warren no longer holds but whose reply is in the session\'s history gets `done` alone; unknown: 404 `WARREN_ERR_MESSAGE_NOT_FOUND`.',
        parameters: [
          { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'integer', minimum: 0, maximum: 999999999 }, description: 'The `id:` of the last event you have; `EventSource` sends it itself when it reconnects. Anything but a number is a 400.' },
          { name: 'after', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: 999999999 }, description: 'As `Last-Event-ID`, for clients that cannot set a header. When both are sent, `Last-Event-ID` wins.' },
        ],
        responses: {
          200: sse('The events after N (all of them without N), then live until `done` or `error`.'),
          ...wsErrors(),
        },
      },
    },
    '/v1/workspaces/{ws}/sessions/{id}/messages/{messageID}/abort': {
      parameters: msgParams,
      post: {
        operationId: 'abortMessage', tags: ['messages'],
        summary: 'Abort a run',
        responses: {
          202: {
            description: 'The run is being aborted; its stream ends with `error` `{"code":"WARREN_ERR_ABORTED",...}`.',
            content: json({ type: 'object', required: ['aborted', 'messageID'], properties: { aborted: { const: true }, messageID: schema('MessageID') } }),
          },
          ...wsErrors([409, 'Conflict']),
        },
      },
    },
    '/v1/workspaces/{ws}/sessions/{id}/permissions/{requestID}': {
      parameters: reqParams,
      post: {
        operationId: 'replyPermission', tags: ['messages'],
        summary: 'Answer a `permission` event',
        requestBody: { required: true, content: json(schema('PermissionReply')) },
        responses: {
          200: { description: 'Answered: opencode goes on as it does with the answer.', content: json({ type: 'object', required: ['answered'], properties: { answered: { const: true } } }) },
          ...wsErrors(),
          404: { description: 'Unknown request (`REQUEST_NOT_FOUND`: not waiting for an answer in this session), session or workspace.', content: json(errorBody(null)) },
        },
      },
    },
    '/v1/workspaces/{ws}/sessions/{id}/questions/{requestID}': {
      parameters: reqParams,
      post: {
        operationId: 'answerQuestion', tags: ['messages'],
        summary: 'Answer (or reject) a `question` event',
        requestBody: { required: true, content: json(schema('QuestionReply')) },
        responses: {
          200: { description: 'Answered: opencode goes on as it does with the answer.', content: json({ type: 'object', required: ['answered'], properties: { answered: { const: true } } }) },
          ...wsErrors(),
          404: { description: 'Unknown request (`REQUEST_NOT_FOUND`: not waiting for an answer in this session), session or workspace.', content: json(errorBody(null)) },
        },
      },
    },
    '/v1/workspaces/{ws}/opencode/{path}': passThrough(),
    '/v1/workspaces/{ws}/usage': {
      parameters: wsParams,
      get: {
        operationId: 'usage', tags: ['workspaces'],
        summary: 'Tokens and cost, as `warren usage --json`',
        description: [
          'Tokens and cost as opencode recorded them for each assistant message created in the window, every session of the',
          'workspace included (those made by the CLI inside it too). The daemon keeps what it read, so asking again reads only',
          'the sessions that changed. Starts the server on demand. Any other query parameter, or one given twice, is a 400.',
        ].join(' '),
        parameters: [
          { name: 'since', in: 'query', required: false, schema: { type: 'string', examples: ['24h', '7d', '2026-12-01T08:00:00Z'] }, description: 'A duration back from now (units ms, s, m, h, d) or an ISO time, as `warren usage --since`; default `24h`. Anything else is a 400.' },
          { name: 'by', in: 'query', required: false, schema: { enum: ['session', 'model', 'day', 'workspace'] }, description: 'One row per session, model or UTC day; without it (or `workspace`), one row for the workspace. Anything else is a 400.' },
        ],
        responses: {
          200: { description: 'The same object as `warren usage --json`.', content: json(schema('UsageReport')) },
          ...wsErrors([502, 'BadGateway']),
        },
      },
    },
  };
}

function build(): Obj {
  return {
    openapi: '3.1.0',
    info: {
      title: 'warren gateway',
      version: warrenVersion(),
      license: { name: 'MIT', identifier: 'MIT' },
      description: [
        'The HTTP gateway of `warren daemon`, for the host agent: on a loopback address or a unix socket (mode 0600).',
        'Every route needs the bearer token (`gateway.token`) except `/healthz`; the pass-through also takes HTTP Basic',
        'with the token as password. Every route refuses (403) what a browser sends for a page on another site, and a',
        '`Host` other than the gateway\'s address, before the token is looked at. Errors warren answers itself have the body `{"error":{"code":"WARREN_ERR_...","message":"..."}}`:',
        'match on `code`. Every 503 carries `Retry-After` in seconds. A tunnel that is down is a 503 at once, never a wait.',
        'A trailing slash is accepted on /v1/workspaces, .../sessions and .../messages. The HTTP server itself answers',
        '408 to a request whose headers take over 10 s (the whole request: 60 s) and 431 to headers over its limit.',
        'Operations, events and schemes marked `x-warren-status: planned` are in the spec but not',
        'built yet. See docs/integrator.md.',
      ].join(' '),
    },
    tags: [
      { name: 'workspaces' }, { name: 'sessions' }, { name: 'messages' }, { name: 'opencode', description: 'Pass-through to opencode\'s own API.' }, { name: 'operations' },
    ],
    security: [{ bearer: [] }],
    paths: paths(),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The gateway token: `Authorization: Bearer <token>`. Missing or wrong: 401.' },
        basic: { type: 'http', scheme: 'basic', description: 'For opencode\'s own clients on the pass-through (`opencode attach ... -p <token>`): any username, the token as password.' },
      },
      headers: {
        RetryAfter: {
          required: true, schema: { type: 'integer', minimum: 1 },
          description: `Seconds to wait before trying again: ${retryAfterText}; ${DEFAULT_RETRY_AFTER_S} for any other 503.`,
        },
      },
      parameters,
      responses,
      schemas,
    },
  };
}

let built: Obj | undefined;

/** The document, built once. Callers must not change it. */
export function openapiDocument(): Obj {
  built ??= build();
  return built;
}
