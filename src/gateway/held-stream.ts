// An event stream of the pass-through (/event, /global/event) is held across a link
// drop or an opencode restart: when its upstream ends, the client's stream stays
// open, warren waits for the link and the server (starting it again if it died) and
// subscribes again, and the events flow on in the same response. OpenCode's TUI
// shows what its stream tells it: left to reconnect on its own backoff, it missed
// the turns typed in the meantime, and their replies with them. Events are passed
// on whole (up to a blank line), so a new upstream never continues a half-sent one.
// Between upstreams, prompts to the workspace wait for the stream (prompt-order.ts),
// so their events are not published to nobody. Past RECONNECT_WAIT_MS the client's
// stream is ended, and it reconnects itself.
//
//   streaming --upstream ends--> holding --subscribed again--> streaming
//                                   |--deadline / client gone--> ended
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import type { WorkspaceRuntime } from '../broker/workspace.js';
import { RECONNECT_WAIT_MS } from '../opencode/across-drops.js';
import type { StreamTap } from './prompt-order.js';
import { drained } from './upstream.js';

/** One event larger than this is passed on in pieces; a stream cut inside it then ends rather than resumes. */
const MAX_HELD_EVENT = 16 * 1024 * 1024;

type State = 'streaming' | 'holding' | 'ended';

export interface HeldStream {
  rt: WorkspaceRuntime;
  first: Dispatcher.ResponseData;
  /** The same subscription again, on whatever link and server there are now. */
  reopen: () => Promise<Dispatcher.ResponseData>;
  res: ServerResponse;
  tap: StreamTap;
  /** Aborted when the client leaves. */
  signal: AbortSignal;
}

export async function holdEventStream(h: HeldStream): Promise<void> {
  // The state lives in the tap, where waiting prompts look at it.
  const setState = (to: State) => h.tap.holding(to === 'holding');
  let upstream: Dispatcher.ResponseData | null = h.first;
  let pending: Buffer = Buffer.alloc(0);
  // Whether what the client got ends at an event's end.
  let whole = true;
  while (upstream) {
    try {
      for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
        const buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        const boundary = eventsEnd(buf);
        if (boundary < 0 && buf.length <= MAX_HELD_EVENT) {
          pending = buf;
          continue;
        }
        const end = boundary < 0 ? buf.length : boundary;
        whole = boundary >= 0;
        pending = buf.subarray(end);
        const out = buf.subarray(0, end);
        const flowing = h.res.write(out);
        h.tap.feed(out);
        if (!flowing) await drained(h.res);
      }
    } catch {
      // The link dropped or the server died under the stream: held below.
    }
    if (h.signal.aborted || h.res.destroyed) break;
    // A cut inside an oversized event cannot be resumed without corrupting it.
    if (!whole) break;
    pending = Buffer.alloc(0);
    setState('holding');
    upstream = await resubscribe(h, Date.now() + RECONNECT_WAIT_MS);
    if (upstream) setState('streaming');
  }
  setState('ended');
  // The client reconnects itself from here.
  if (!h.res.writableEnded) h.res.end();
}

/** The offset just past the last complete event (its blank line), or -1. */
function eventsEnd(buf: Buffer): number {
  const lf = buf.lastIndexOf('\n\n');
  const crlf = buf.lastIndexOf('\r\n\r\n');
  return Math.max(lf < 0 ? -1 : lf + 2, crlf < 0 ? -1 : crlf + 4);
}

async function resubscribe(h: HeldStream, deadline: number): Promise<Dispatcher.ResponseData | null> {
  let backoff = 250;
  while (Date.now() < deadline && !h.signal.aborted) {
    try {
      await h.rt.whenReady(deadline);
      const up = await h.reopen();
      if (up.statusCode === 200) return up;
      await up.body.dump();
    } catch {
      // Not yet: the link is still down, or the server is starting or gone.
    }
    try {
      await sleep(Math.min(backoff, Math.max(1, deadline - Date.now())), undefined, { signal: h.signal });
    } catch {
      return null;
    }
    backoff = Math.min(backoff * 2, 2000);
  }
  return null;
}
