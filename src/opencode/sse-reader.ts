// One reader for every server-sent-events stream warren follows.
//
// Why it exists: opencode's /event stream was decoded per chunk with
// chunk.toString('utf8'), so a multi-byte character cut between two SSH packets
// came out as U+FFFD, and what a UI showed while a reply streamed differed from the
// final text. Frames were also split on '\n\n' only, so a server ending lines with
// CRLF or CR would never have been heard. So: one reader for every SSE consumer,
// kept to the WHATWG rules ("Interpreting an event stream", html.spec.whatwg.org)
// so that it reads a stream as a browser's EventSource would:
//
// - one UTF-8 BOM at the very start is dropped (TextDecoder does that, even cut);
// - a line ends at CRLF, LF or CR; a CR at the end of a chunk ends the line at once
//   (no waiting for the next packet), and an LF opening the next chunk is swallowed;
// - `data:` with an empty value still counts: "data:\n\n" dispatches data '';
//   only a block with no data line at all is dropped;
// - an event not closed by a blank line before the stream ends is NOT dispatched:
//   it may be cut short, and a half JSON payload is worse than none;
// - `retry:` is kept on the parser (digits only, as the spec says), not on events.
//
// Cost is linear in the bytes: an unfinished line is kept as a list of pieces and
// joined once when it ends, so a 1 MB line in many chunks is not re-copied per chunk.

export interface SseEvent {
  /** The `event:` field, or 'message' when there was none (or it was empty). */
  event: string;
  /** The `data:` lines, joined with '\n'. */
  data: string;
  /** The last `id:` seen on this stream, even in an earlier event; null if none yet. */
  id: string | null;
}

const LINE_END = /[\r\n]/g;

export class SseParser {
  /** Reconnection time from the last valid `retry:` field, in ms; undefined if none. */
  retry: number | undefined;

  private decoder = new TextDecoder('utf-8');
  /** The current line so far, when it spans chunks. */
  private pieces: string[] = [];
  /** The last chunk ended in CR: an LF opening the next one belongs to it. */
  private afterCR = false;
  private eventType = '';
  private dataLines: string[] = [];
  private lastId: string | null = null;

  /** Feeds bytes; returns the events this chunk completed, in order. */
  push(chunk: Uint8Array): SseEvent[] {
    const out: SseEvent[] = [];
    this.text(this.decoder.decode(chunk, { stream: true }), out);
    return out;
  }

  /**
   * The stream ended. Never dispatches (an unterminated event is dropped, per spec),
   * so it returns [] today; it is there so a caller need not know that. Afterwards
   * the parser starts afresh for a reconnected stream, keeping the last id and retry.
   */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    // Flushing yields only U+FFFD for a cut character, never a line end.
    this.text(this.decoder.decode(), out);
    this.pieces = [];
    this.afterCR = false;
    this.eventType = '';
    this.dataLines = [];
    return out;
  }

  private text(s: string, out: SseEvent[]): void {
    if (s === '') return; // a chunk holding only part of a character: keep afterCR
    let start = 0;
    if (this.afterCR) {
      this.afterCR = false;
      if (s.charCodeAt(0) === 10) start = 1;
    }
    LINE_END.lastIndex = start;
    let m: RegExpExecArray | null;
    while ((m = LINE_END.exec(s)) !== null) {
      const end = m.index;
      const tail = s.slice(start, end);
      const line = this.pieces.length ? this.pieces.join('') + tail : tail;
      this.pieces = [];
      start = end + 1;
      if (s.charCodeAt(end) === 13) {
        if (start === s.length) this.afterCR = true;
        else if (s.charCodeAt(start) === 10) start++;
      }
      LINE_END.lastIndex = start;
      this.line(line, out);
    }
    if (start < s.length) this.pieces.push(start === 0 ? s : s.slice(start));
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') return this.dispatch(out);
    const colon = line.indexOf(':');
    if (colon === 0) return; // comment, e.g. a keep-alive
    let field = line;
    let value = '';
    if (colon > 0) {
      field = line.slice(0, colon);
      value = line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1);
    }
    switch (field) {
      case 'event': this.eventType = value; break;
      case 'data': this.dataLines.push(value); break;
      case 'id': if (!value.includes('\0')) this.lastId = value; break;
      case 'retry': if (/^[0-9]+$/.test(value)) this.retry = Number(value); break;
      default: break; // unknown fields are ignored, as the spec says
    }
  }

  private dispatch(out: SseEvent[]): void {
    const type = this.eventType;
    this.eventType = '';
    if (this.dataLines.length === 0) return;
    const data = this.dataLines.join('\n');
    this.dataLines = [];
    out.push({ event: type || 'message', data, id: this.lastId });
  }
}

/** The events of an SSE body (e.g. undici's `res.body`), decoded across chunks. */
export async function* readSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const parser = new SseParser();
  for await (const chunk of body) yield* parser.push(chunk);
  yield* parser.end();
}
