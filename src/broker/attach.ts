// What `warren attach` asks the daemon for: where OpenCode's own TUI can reach the
// workspace (the gateway's pass-through), with what (the gateway token, handed over
// the 0600 control socket and on to the TUI's environment, never argv), which
// opencode it will meet there (its version), and in which directory the session
// lives. The server is started, and the session found and imported, here, so the
// TUI opens on a session it can read.
import { AttachError, UsageError } from '../errors.js';
import { checkSessionId } from '../opencode/locate.js';
import type { Broker } from './broker.js';

export interface AttachRequest { workspace: string; session?: string }

export interface AttachInfo {
  /** The pass-through's URL, e.g. http://127.0.0.1:7391/v1/workspaces/alpha/opencode */
  url: string;
  token: string;
  /** The version of the workspace's running opencode. */
  opencodeVersion: string;
  /** The session's own directory, when a session was named. */
  directory: string | null;
}

export function attachRequestOf(req: Record<string, unknown>): AttachRequest {
  if (typeof req.workspace !== 'string') throw new UsageError('attach needs "workspace"');
  if (req.session !== undefined && typeof req.session !== 'string') throw new UsageError('"session" must be a string');
  return { workspace: req.workspace, ...(req.session !== undefined ? { session: req.session as string } : {}) };
}

export async function attachInfo(broker: Broker, gateway: { address: string; token: string } | null, req: AttachRequest): Promise<AttachInfo> {
  if (req.session !== undefined) checkSessionId(req.session);
  if (!gateway) throw new AttachError('the daemon\'s gateway is not listening yet; retry in a moment');
  // opencode's clients speak HTTP over TCP only.
  if (gateway.address.startsWith('/')) {
    throw new AttachError(`the daemon's gateway listens on the unix socket ${gateway.address}, which opencode attach cannot use: set gateway.listen to 127.0.0.1:PORT`);
  }
  // A person waits at the terminal: a workspace that cannot be reached says so at once.
  const rt = await broker.ready(req.workspace, { failFast: true });
  await rt.server.ensureRunning();
  let directory: string | null = null;
  if (req.session !== undefined) directory = (await rt.locate(req.session)).session.directory;
  const version = rt.server.snapshot().version;
  if (!version) throw new AttachError(`workspace ${req.workspace}'s opencode did not report its version; see warren status`);
  return { url: `http://${gateway.address}/v1/workspaces/${encodeURIComponent(req.workspace)}/opencode`, token: gateway.token, opencodeVersion: version, directory };
}
