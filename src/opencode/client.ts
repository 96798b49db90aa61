// The official OpenCode SDK client (v2 entry), with its fetch running over a link.
// The v2 SDK hands fetch a WHATWG Request; Node's fetch accepts an undici 7
// dispatcher for it (undici's own fetch would not accept Node's Request class).
import { createOpencodeClient, type OpencodeClient } from '@opencode-ai/sdk/v2/client';
import type { Dispatcher } from 'undici';
import type { Link } from '../ssh/link.js';
import { opencodeAuthorization } from './basic-auth.js';
import { createLinkDispatcher, type LinkDispatcherOptions } from '../ssh/dispatcher.js';

export interface OpencodeOverLinkOptions extends LinkDispatcherOptions {
  /** Where opencode serves inside the workspace. Default http://127.0.0.1:4096. */
  baseUrl?: string;
  /** The project directory requests act on (x-opencode-directory). */
  directory?: string;
  /** HTTP Basic password of the server (OPENCODE_SERVER_PASSWORD), if it has one. */
  password?: string;
  /** Or the Authorization header, asked for at every request (a restarted server has a new password). */
  authorization?: () => string;
  /** Reuse a dispatcher instead of creating one. */
  dispatcher?: Dispatcher;
}

export function opencodeClientOverLink(link: Link, o: OpencodeOverLinkOptions = {}): { client: OpencodeClient; dispatcher: Dispatcher } {
  const dispatcher = o.dispatcher ?? createLinkDispatcher(link, o);
  const headers: Record<string, string> = {};
  if (o.password !== undefined) headers.authorization = opencodeAuthorization(o.password);
  const client = createOpencodeClient({
    baseUrl: o.baseUrl ?? 'http://127.0.0.1:4096',
    ...(o.directory !== undefined ? { directory: o.directory } : {}),
    headers,
    fetch: (input: string | URL | Request, init?: RequestInit) => {
      const req = new Request(input, init);
      if (o.authorization) req.headers.set('authorization', o.authorization());
      return fetch(req, { dispatcher } as unknown as RequestInit);
    },
  });
  return { client, dispatcher };
}
