// Idempotency-Key → message, per session: a POST retried with the same key (a proxy's
// retry, a client that timed out, a daemon restarted in between) never sends a
// second prompt; it gets the first request's run. The map is written to the state
// directory (0600 in a 0700 directory) before the prompt is sent, so a daemon killed
// right after still knows the key when it comes back. Keys live 24 h; at most
// MAX_KEYS are kept, the oldest dropped first.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';

export const KEY_TTL_MS = 24 * 3600_000;
export const MAX_KEYS = 10_000;

/** 1-255 visible ASCII characters, as the gateway's contract says. */
export function isIdempotencyKey(k: string): boolean {
  return /^[\x21-\x7e]{1,255}$/.test(k);
}

interface Entry { messageID: string; at: number }

export class IdempotencyStore {
  private readonly map = new Map<string, Entry>();

  /** `file` null: kept in memory only (the library without a state directory). */
  constructor(private readonly file: string | null, private readonly log?: Logger) {
    if (file) this.load(file);
  }

  /**
   * The message this key already stands for, or `messageID` now claimed for it.
   * Synchronous, so two requests with one key racing each other get one message.
   */
  claim(workspace: string, sessionID: string, key: string, messageID: string): { messageID: string; fresh: boolean } {
    const id = idOf(workspace, sessionID, key);
    const had = this.map.get(id);
    if (had && Date.now() - had.at < KEY_TTL_MS) return { messageID: had.messageID, fresh: false };
    this.map.delete(id);
    this.map.set(id, { messageID, at: Date.now() });
    while (this.map.size > MAX_KEYS) this.map.delete(this.map.keys().next().value!);
    this.save();
    return { messageID, fresh: true };
  }

  /** The claim came to nothing (the session was not found, say): the key is free again. */
  release(workspace: string, sessionID: string, key: string): void {
    if (this.map.delete(idOf(workspace, sessionID, key))) this.save();
  }

  get size(): number { return this.map.size; }

  private load(file: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log?.warn({ file, err: (err as Error).message }, 'idempotency keys unreadable; starting without them');
      return;
    }
    const now = Date.now();
    const entries = (raw as { keys?: Array<[string, Entry]> }).keys ?? [];
    for (const [id, e] of entries) {
      if (typeof id === 'string' && typeof e?.messageID === 'string' && typeof e.at === 'number' && now - e.at < KEY_TTL_MS) this.map.set(id, e);
    }
  }

  private save(): void {
    if (!this.file) return;
    const dir = path.dirname(this.file);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ keys: [...this.map] }), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }
}

function idOf(workspace: string, sessionID: string, key: string): string {
  return `${workspace}\0${sessionID}\0${key}`;
}
