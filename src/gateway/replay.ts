// A prompt that met a dying server is sent again once the server is back, when
// that cannot answer it twice. It cannot when it never reached the server (nothing
// listened on the port); when the connection closed under it, it might have, so the
// pass-through gives every prompt a message id of its own (opencode's prompt takes
// one; OpenCode's TUI sends none) and asks the new server whether it has that
// message before sending it again. A person's typed turn is not lost to a crash.
import type { WorkspaceRuntime } from '../broker/workspace.js';
import { ServerGoneError } from '../errors.js';
import { neverReached } from '../opencode/forward.js';
import { newMessageId } from '../opencode/ids.js';

/** The prompts whose body names the user message (opencode's PromptInput). */
const STAMPED = /^\/session\/([^/?]+)\/(?:message|prompt_async)(?:\?|$)/;

/** The body with a message id, if it is a prompt that has none; and that id. */
export function stampPrompt(target: string, body: Buffer): { body: Buffer; messageID: string | null } {
  if (!STAMPED.test(target)) return { body, messageID: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { body, messageID: null };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { body, messageID: null };
  const given = (parsed as { messageID?: unknown }).messageID;
  if (typeof given === 'string') return { body, messageID: given };
  if (given !== undefined) return { body, messageID: null };
  const messageID = newMessageId();
  return { body: Buffer.from(JSON.stringify({ ...parsed, messageID })), messageID };
}

/** Whether the request that failed with `err` may go to the server again (started again if need be). */
export async function maySendAgain(rt: WorkspaceRuntime, err: unknown, o: { sessionID: string | null; messageID: string | null; directory: string | null }): Promise<boolean> {
  if (neverReached(err)) {
    await rt.ensureServer();
    return true;
  }
  if (!(err instanceof ServerGoneError) || !o.sessionID || !o.messageID) return false;
  await rt.ensureServer();
  return !(await rt.hasMessage(o.sessionID, o.messageID, o.directory));
}
