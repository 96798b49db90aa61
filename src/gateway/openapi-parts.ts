// The pieces of the OpenAPI document that are data, not routes: the error codes per
// status, the small builders, and the component schemas. openapi.ts assembles them.

import { WORKSPACE_NAME } from '../config/index.js';
import type { ErrorCode } from '../errors.js';
import { STATUS_OF } from './respond.js';

export type Obj = Record<string, unknown>;

/** Spread into anything the spec promises but the code does not have yet. */
export const PLANNED = { 'x-warren-status': 'planned' } as const;

/** The codes each error status carries, as docs/integrator.md's table lists them. */
export const ERROR_CODES: Readonly<Record<number, readonly ErrorCode[]>> = {
  400: ['WARREN_ERR_BAD_REQUEST', 'WARREN_ERR_SESSION_ID', 'WARREN_ERR_MESSAGE_ID', 'WARREN_ERR_UNQUOTABLE'],
  401: ['WARREN_ERR_UNAUTHORIZED'],
  403: ['WARREN_ERR_FORBIDDEN_HOST', 'WARREN_ERR_FORBIDDEN_ORIGIN'],
  404: ['WARREN_ERR_UNKNOWN_WORKSPACE', 'WARREN_ERR_SESSION_NOT_FOUND', 'WARREN_ERR_NO_ROUTE', 'WARREN_ERR_MESSAGE_NOT_FOUND', 'WARREN_ERR_REQUEST_NOT_FOUND'],
  405: ['WARREN_ERR_BAD_REQUEST'],
  409: ['WARREN_ERR_SESSION_BUSY', 'WARREN_ERR_RUN_FINISHED'],
  413: ['WARREN_ERR_TOO_LARGE'],
  502: ['WARREN_ERR_PORT_BUSY', 'WARREN_ERR_SERVER_START', 'WARREN_ERR_SERVER_GONE', 'WARREN_ERR_SERVER_HTTP', 'WARREN_ERR_IMPORT'],
  503: ['WARREN_ERR_LINK_DOWN', 'WARREN_ERR_LINK_LOST', 'WARREN_ERR_WAIT_UP_TIMEOUT', 'WARREN_ERR_SHUTTING_DOWN', 'WARREN_ERR_DB_LOCKED'],
  504: ['WARREN_ERR_CHAT_TIMEOUT', 'WARREN_ERR_ASK_TIMEOUT'],
  // The table's "INTERNAL, or any other code": every code without a status of its own.
  500: (Object.keys(STATUS_OF) as ErrorCode[]).filter((code) => STATUS_OF[code] === 500),
};
/** Codes a message stream's `error` event may carry (the run already answered 200). */
export const STREAM_ERROR_CODES = ['WARREN_ERR_CHAT_FAILED', 'WARREN_ERR_CHAT_STALLED', 'WARREN_ERR_CHAT_TIMEOUT', 'WARREN_ERR_SERVER_GONE', 'WARREN_ERR_WAIT_UP_TIMEOUT', 'WARREN_ERR_SHUTTING_DOWN', 'WARREN_ERR_ABORTED', 'WARREN_ERR_ASK_TIMEOUT'];

export const ref = (kind: 'schemas' | 'responses' | 'parameters' | 'headers' | 'securitySchemes', name: string) => ({ $ref: `#/components/${kind}/${name}` });
export const schema = (name: string) => ref('schemas', name);
export const json = (s: Obj) => ({ 'application/json': { schema: s } });

export function errorBody(codes: readonly string[] | null): Obj {
  return {
    type: 'object', required: ['error'], additionalProperties: false,
    properties: {
      error: {
        type: 'object', required: ['code', 'message'],
        properties: {
          code: codes ? { type: 'string', enum: [...codes] } : schema('ErrorCode'),
          message: { type: 'string', description: 'One line a person can act on. Match on `code`, never on this.' },
        },
      },
    },
  };
}

// ---- schemas ----

export const event = (name: string, dataSchema: Obj, description: string, o: { planned?: boolean; idOptional?: boolean } = {}): Obj => ({
  type: 'object', required: o.idOptional ? ['event', 'data'] : ['id', 'event', 'data'], description, ...(o.planned ? PLANNED : {}),
  properties: { id: schema('EventId'), event: { const: name }, data: dataSchema },
});

export const schemas: Obj = {
  ErrorCode: { type: 'string', pattern: '^WARREN_ERR_[A-Z0-9_]+$', description: 'A stable error code; `WARREN_ERR_INTERNAL` for an unexpected failure.' },
  Error: errorBody(null),
  WorkspaceName: { type: 'string', pattern: `^${WORKSPACE_NAME}$` },
  SessionID: { type: 'string', pattern: '^ses_[0-9A-Za-z]{26}$', description: 'An OpenCode session id. Anything else is a 400 `WARREN_ERR_SESSION_ID` before anything runs in the workspace.' },
  TunnelStatus: {
    type: 'object', required: ['state', 'lastError'],
    properties: {
      state: { enum: ['up', 'connecting', 'down'] },
      since: { type: 'string', format: 'date-time', description: 'When the current state began.' },
      uptimeMs: { type: ['number', 'null'] },
      keepaliveRttMs: { type: ['number', 'null'] },
      openChannels: { type: 'integer' },
      channelsOpened: { type: 'integer' },
      bytesIn: { type: 'integer' },
      bytesOut: { type: 'integer' },
      reconnects: { type: 'integer' },
      failedAttempts: { type: 'integer' },
      lastError: { type: ['string', 'null'], description: 'The last error\'s one-line message.' },
      lastErrorCode: { type: ['string', 'null'] },
      lastErrorAt: { type: ['string', 'null'], format: 'date-time' },
      nextAttemptAt: { type: ['string', 'null'], format: 'date-time' },
      nativeCrypto: { type: 'boolean' },
      cipher: { type: ['string', 'null'] },
    },
  },
  OpencodeStatus: {
    type: 'object', required: ['state'],
    properties: {
      state: { enum: ['stopped', 'starting', 'running', 'failed'] },
      version: { type: ['string', 'null'] },
      port: { type: 'integer' },
      pid: { type: ['integer', 'null'] },
      starts: { type: 'integer' },
      restarts: { type: 'integer' },
      adoptions: { type: 'integer' },
      lastFailure: { type: ['string', 'null'] },
      lastFailureAt: { type: ['string', 'null'], format: 'date-time' },
      idleMs: { type: ['number', 'null'], description: 'Milliseconds without requests or streams while running, else null.' },
      activeStreams: { type: 'integer' },
    },
  },
  WorkspaceStatus: {
    type: 'object', required: ['name', 'tunnel', 'opencode'],
    description: 'The object `warren status --json` prints for a workspace (src/broker/status.ts, docs/operator.md). Fields may be added.',
    properties: {
      name: schema('WorkspaceName'),
      target: { type: 'string', description: 'user@host:port, or the transport command.' },
      tunnel: schema('TunnelStatus'),
      opencode: schema('OpencodeStatus'),
      messages: {
        type: 'object',
        properties: { total: { type: 'integer' }, failed: { type: 'integer' }, inFlight: { type: 'integer' }, durationMsSum: { type: 'number' }, durationCount: { type: 'integer' } },
      },
      recentErrors: {
        type: 'array', maxItems: 5, description: 'The last few tunnel errors and server failures, newest first.',
        items: {
          type: 'object', required: ['at', 'source', 'code', 'message'],
          properties: { at: { type: 'string', format: 'date-time' }, source: { enum: ['tunnel', 'opencode'] }, code: { type: ['string', 'null'] }, message: { type: 'string' } },
        },
      },
      usage: {
        type: 'object', required: ['since', 'messages', 'tokens', 'cost', 'asOf'],
        description: 'Today\'s tokens and cost (the UTC day), as of the daemon\'s last read of the history: every minute while the server runs, and on every usage request. `asOf` null: not read yet.',
        properties: { since: { type: 'string', format: 'date-time' }, messages: { type: 'integer' }, tokens: schema('UsageTokens'), cost: { type: 'number' }, asOf: { type: ['string', 'null'], format: 'date-time' } },
      },
      via: {
        type: ['object', 'null'], description: 'The jump host the tunnel goes through (its own link), or null for a direct one.',
        required: ['name', 'target', 'state', 'lastError'],
        properties: { name: { type: 'string' }, target: { type: 'string' }, state: { enum: ['up', 'connecting', 'down'] }, lastError: { type: ['string', 'null'] } },
      },
    },
  },
  SessionRow: {
    type: 'object', required: ['id', 'title', 'directory', 'updated', 'source'],
    properties: {
      id: schema('SessionID'),
      title: { type: 'string' },
      directory: { type: 'string' },
      updated: { type: 'string', format: 'date-time' },
      source: { type: 'string', description: '`server`, or the `importFrom` data directory the session was found in (imported on its first message).' },
    },
  },
  OpencodeSession: {
    type: 'object', required: ['id', 'directory', 'title'], additionalProperties: true,
    description: 'opencode\'s session object, as opencode returns it.',
    properties: { id: schema('SessionID'), directory: { type: 'string' }, title: { type: 'string' } },
  },
  CreateSession: {
    type: 'object', additionalProperties: false,
    properties: {
      directory: { type: 'string', pattern: '^/', description: 'An absolute path inside the workspace (no NUL, at most 4095 bytes, no part over 255).' },
      title: { type: 'string' },
    },
  },
  SendMessage: {
    type: 'object', required: ['text'], additionalProperties: false,
    properties: { text: { type: 'string', minLength: 1, description: 'Not empty or only white space. Any characters, NUL included: it never meets a shell.' } },
  },
  EventId: {
    type: 'integer', minimum: 1,
    description: 'The SSE `id:` of the event: its sequence number within the run, 1, 2, 3, ... Send the last one you saw as `Last-Event-ID` (or `?after=`) to `GET .../messages/{messageID}/events` to resume.',
  },
  MessageID: { type: 'string', pattern: '^msg_[0-9A-Za-z]{26}$', description: 'An OpenCode message id. Anything else is a 400 `WARREN_ERR_MESSAGE_ID`.' },
  AcceptedData: { type: 'object', required: ['sessionID', 'messageID'], properties: { sessionID: schema('SessionID'), messageID: schema('MessageID') } },
  TextData: { type: 'object', required: ['delta'], properties: { delta: { type: 'string', description: 'The next piece of the reply. The deltas of one run add up exactly to `done.text`.' } } },
  ToolData: {
    type: 'object', required: ['name', 'status'], additionalProperties: true,
    properties: {
      name: { type: 'string' },
      status: { type: 'string', description: 'opencode\'s: `pending`, `running`, `completed`, `error`; or `unknown`.' },
      callID: { type: 'string', description: 'Repeats as the call\'s status changes; absent if opencode gave none.' },
    },
  },
  PermissionData: {
    type: 'object', required: ['id', 'permission', 'patterns', 'metadata'],
    description: 'Answer it with `POST .../sessions/{id}/permissions/{requestID}`, `requestID` being `id`. No watchdog ends the run while it waits.',
    properties: { id: { type: 'string' }, permission: { type: 'string' }, patterns: { type: 'array', items: { type: 'string' } }, metadata: { type: 'object', additionalProperties: true } },
  },
  QuestionData: {
    type: 'object', required: ['id', 'questions'],
    description: 'Answer it with `POST .../sessions/{id}/questions/{requestID}`, `requestID` being `id`. No watchdog ends the run while it waits.',
    properties: {
      id: { type: 'string' },
      questions: {
        type: 'array',
        items: {
          type: 'object', required: ['question', 'header', 'options'], additionalProperties: true,
          description: 'opencode\'s QuestionInfo.',
          properties: {
            question: { type: 'string' },
            header: { type: 'string' },
            options: { type: 'array', items: { type: 'object', required: ['label'], properties: { label: { type: 'string' }, description: { type: 'string' } } } },
            multiple: { type: 'boolean' },
            custom: { type: 'boolean' },
          },
        },
      },
    },
  },
  DoneData: {
    type: 'object', required: ['sessionID', 'messageID', 'text'],
    properties: {
      sessionID: schema('SessionID'),
      messageID: { ...schema('MessageID'), description: 'The id of your message in the session\'s history.' },
      text: { type: 'string', description: 'The complete reply.' },
      imported: { const: true, description: 'Present when warren imported the session for this message.' },
    },
  },
  ErrorData: {
    type: 'object', required: ['code', 'message'],
    properties: {
      code: { ...schema('ErrorCode'), description: `Codes a stream ends with include ${STREAM_ERROR_CODES.join(', ')} (\`WARREN_ERR_ABORTED\` after an abort).` },
      message: { type: 'string' },
    },
  },
  AcceptedEvent: event('accepted', schema('AcceptedData'), 'Always the first event.'),
  TextEvent: event('text', schema('TextData'), 'The next piece of the assistant\'s reply.'),
  ToolEvent: event('tool', schema('ToolData'), 'An update of a tool call.'),
  PermissionEvent: event('permission', schema('PermissionData'), 'opencode asks to be allowed something.'),
  QuestionEvent: event('question', schema('QuestionData'), 'opencode asks the user a question.'),
  DoneEvent: event('done', schema('DoneData'), 'The last event of a run that succeeded.'),
  ErrorEvent: event('error', schema('ErrorData'), 'The last event of a run that failed. No `done` follows. One exception has no `id:`: `WARREN_ERR_SHUTTING_DOWN` when the daemon stops while you follow; that ends your stream, not the run, so follow it again later.', { idOptional: true }),
  RunEvent: {
    oneOf: ['AcceptedEvent', 'TextEvent', 'ToolEvent', 'PermissionEvent', 'QuestionEvent', 'DoneEvent', 'ErrorEvent'].map(schema),
  },
  RunEventStream: {
    type: 'array', items: schema('RunEvent'),
    description: [
      'A run\'s events in order, as server-sent events. On the wire each one is',
      '`id: <n>\\nevent: <name>\\ndata: <one line of JSON>\\n\\n`; lines starting with `:` are keep-alive',
      'comments (every 15 s) that SSE parsers skip. `accepted` comes first; then any number of `text`,',
      '`tool`, `permission` and `question`; last either `done` or `error`, and the stream ends.',
      'The deltas of one run add up exactly to `done.text`, multi-byte characters included.',
    ].join(' '),
  },
  PermissionReply: { type: 'object', required: ['reply'], additionalProperties: false, properties: { reply: { enum: ['once', 'always', 'reject'] } } },
  QuestionReply: {
    oneOf: [
      {
        type: 'object', required: ['answers'], additionalProperties: false,
        properties: { answers: { type: 'array', description: 'One array of chosen labels per question, in the order of `questions`.', items: { type: 'array', items: { type: 'string' } } } },
      },
      { type: 'object', required: ['reject'], additionalProperties: false, properties: { reject: { const: true } } },
    ],
  },
  UsageTokens: {
    type: 'object', required: ['input', 'output', 'reasoning', 'cacheRead', 'cacheWrite'],
    properties: Object.fromEntries(['input', 'output', 'reasoning', 'cacheRead', 'cacheWrite'].map((k) => [k, { type: 'integer', minimum: 0 }])),
  },
  UsageReport: {
    type: 'object', required: ['since', 'rows'],
    description: 'What `warren usage --json` prints: tokens and cost as OpenCode recorded them for assistant messages in the window, every session of the workspace included.',
    properties: {
      since: { type: 'string', format: 'date-time', description: 'The start of the window.' },
      rows: {
        type: 'array',
        items: {
          type: 'object', required: ['workspace', 'key', 'messages', 'tokens', 'cost'],
          properties: {
            workspace: schema('WorkspaceName'),
            key: { type: 'string', description: 'The session id, the model (`provider/model`) or the day (`YYYY-MM-DD`, UTC) with `by`; the workspace name without it.' },
            messages: { type: 'integer', minimum: 0, description: 'Assistant messages created in the window.' },
            tokens: schema('UsageTokens'),
            cost: { type: 'number', minimum: 0, description: 'As opencode recorded it: US dollars, from the model\'s price in its config.' },
          },
        },
      },
    },
  },
};
