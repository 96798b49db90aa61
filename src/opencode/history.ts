// A message's outcome as the session's history tells it: not there, still being
// answered, or answered (with the complete reply, or opencode's error). This is how
// warren answers for a run it no longer holds (a daemon restarted, a run evicted).
import { callServer } from './api.js';
import { ReplyAssembler, type HistoryEntry } from './reply.js';
import type { OpencodeServer } from './server.js';

export type Outcome =
  | { state: 'absent' }
  | { state: 'running' }
  | { state: 'finished'; text: string; error: string | null };

export async function readHistory(server: OpencodeServer, sessionID: string, directory: string): Promise<HistoryEntry[]> {
  const r = await callServer<HistoryEntry[]>(server, server.workspace, `/session/${sessionID}/message`, { directory, timeoutMs: 30_000 });
  return r.body;
}

/** Whether opencode is still working on the session (between two steps of a reply, its last part may look finished). */
export async function sessionBusy(server: OpencodeServer, sessionID: string, directory: string): Promise<boolean> {
  const r = await callServer<Record<string, { type: string }>>(server, server.workspace, '/session/status', { directory, timeoutMs: 15_000 });
  const s = r.body[sessionID];
  return s !== undefined && s.type !== 'idle';
}

export function outcomeOf(entries: HistoryEntry[], sessionID: string, messageID: string, busy: boolean): Outcome {
  if (!entries.some((e) => e.info.id === messageID)) return { state: 'absent' };
  const reply = new ReplyAssembler(sessionID, messageID, { delta: () => {}, tool: () => {} });
  if (busy || !reply.finishedIn(entries)) return { state: 'running' };
  const text = reply.final(entries);
  return { state: 'finished', text, error: reply.error };
}
