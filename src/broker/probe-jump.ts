// The jump hop of `warren check`, proven before the workspace's own steps: the jump
// host's sshd reached, its host key as pinned, the key accepted, and a forward from
// it to the workspace's sshd permitted and answered. The channel it opens is then
// the transport of the workspace's own steps (probe.ts), so the check goes exactly
// the way the daemon's link goes.
import type { Client } from 'ssh2';
import type { Duplex } from 'node:stream';
import type { JumpHostConfig, WorkspaceConfig } from '../config/index.js';
import { AuthError, ConnectError, HostKeyMismatchError, isWarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import { ChannelSocket } from '../ssh/channel-socket.js';
import { connectClient, endClient, readPrivateKey } from '../ssh/connect.js';
import { openForward } from '../ssh/forward.js';
import { Semaphore } from '../ssh/semaphore.js';
import type { Transport } from '../ssh/transport.js';
import { escapeUnsafe, firstLine } from '../text.js';

export type JumpStep = 'via reach' | 'via hostkey' | 'via auth' | 'via forward';
export const JUMP_STEPS: readonly JumpStep[] = ['via reach', 'via hostkey', 'via auth', 'via forward'];

export interface JumpStepResult { step: JumpStep; status: 'ok' | 'fail'; detail: string; fix?: string }

export interface JumpHop {
  steps: JumpStepResult[];
  /** The workspace's sshd through the jump host, when every step passed; used once. */
  transport: Transport | null;
  close(): Promise<void>;
}

export interface JumpProbeOptions { logger: Logger; connectTimeoutMs: number; stepTimeoutMs: number; limiter?: Semaphore; signal: AbortSignal }

export async function probeJumpHop(ws: WorkspaceConfig, jump: JumpHostConfig, o: JumpProbeOptions): Promise<JumpHop> {
  const at = `${jump.user}@${jump.host}:${jump.port}`;
  const none = (steps: JumpStepResult[]): JumpHop => ({ steps, transport: null, close: async () => {} });
  let key: Buffer;
  try {
    key = readPrivateKey(jump.name, jump.privateKeyPath);
  } catch (err) {
    return none([{ step: 'via auth', status: 'fail', detail: (err as Error).message, fix: `make jumpHosts.${jump.name}.privateKeyPath name a private key file this user can read` }]);
  }
  const started = Date.now();
  let client: Client;
  try {
    client = await connectClient({
      name: jump.name, target: at, user: jump.user, transport: { kind: 'tcp', host: jump.host, port: jump.port }, privateKey: key,
      hostKeyFingerprints: jump.hostKeyFingerprints, readyTimeoutMs: o.connectTimeoutMs, limiter: o.limiter ?? new Semaphore(1), logger: o.logger,
    }, o.signal, { onCipher: () => {} });
  } catch (err) {
    return none(connectFailure(jump, at, err));
  }
  const steps: JumpStepResult[] = [
    { step: 'via reach', status: 'ok', detail: `jump host ${jump.name} at ${jump.host}:${jump.port}, handshake in ${Date.now() - started} ms` },
    { step: 'via hostkey', status: 'ok', detail: `${jump.hostKeyFingerprints.length === 1 ? jump.hostKeyFingerprints[0] : 'one of the pins'} as pinned` },
    { step: 'via auth', status: 'ok', detail: `logged in to ${jump.name} as ${jump.user}` },
  ];
  const to = `${ws.host}:${ws.port}`;
  let sock: Duplex;
  try {
    const ch = await openForward(client, ws.host, ws.port, o.stepTimeoutMs, {
      onPending: () => () => {},
      timeoutError: () => new Error(`no answer to the forward within ${o.stepTimeoutMs} ms`),
      openError: (err) => Object.assign(new Error(err.message), { reason: err.reason }),
      sendError: (err) => err,
    });
    sock = new ChannelSocket(ch, { remoteAddress: ws.host, remotePort: ws.port });
  } catch (err) {
    await endClient(client);
    const e = err as Error & { reason?: number };
    steps.push(e.reason === 1
      ? { step: 'via forward', status: 'fail', detail: `${jump.name} refuses to forward to ${to} (administratively prohibited)`, fix: `allow it in the jump host's sshd_config: AllowTcpForwarding local (or yes), and PermitOpen ${to} or any` }
      : e.reason === 2
        ? { step: 'via forward', status: 'fail', detail: `${jump.name} cannot connect to ${to} (nothing listens there, or it cannot reach it)`, fix: `start sshd in the workspace, or correct host and port: they are the address as ${jump.name} sees it` }
        : { step: 'via forward', status: 'fail', detail: `forward to ${to} failed: ${line(err)}`, fix: `see ${jump.name}'s sshd log` });
    return none(steps);
  }
  steps.push({ step: 'via forward', status: 'ok', detail: `${jump.name} forwards to ${to}` });
  return {
    steps,
    transport: { kind: 'jump', host: ws.host, port: ws.port, via: { name: jump.name, openSocket: async () => sock } },
    close: async () => {
      sock.destroy();
      await endClient(client);
    },
  };
}

function connectFailure(jump: JumpHostConfig, at: string, err: unknown): JumpStepResult[] {
  if (err instanceof HostKeyMismatchError) {
    return [
      { step: 'via reach', status: 'ok', detail: `jump host ${jump.name}'s sshd answered` },
      {
        step: 'via hostkey', status: 'fail', detail: `${jump.name} presents ${err.actual}, the config pins ${err.expected.join(' or ')}`,
        fix: `if the jump host's key changed on purpose (verify it out of band), put in jumpHosts.${jump.name}: "hostKeyFingerprint": "${err.actual}"`,
      },
    ];
  }
  if (err instanceof AuthError) {
    return [
      { step: 'via reach', status: 'ok', detail: `jump host ${jump.name}'s sshd answered` },
      { step: 'via hostkey', status: 'ok', detail: 'as pinned' },
      { step: 'via auth', status: 'fail', detail: `${jump.name} refused the key ${jump.privateKeyPath} for user ${jump.user}`, fix: `add the key's public half to ~${jump.user}/.ssh/authorized_keys on the jump host, or fix jumpHosts.${jump.name}.user / privateKeyPath` },
    ];
  }
  const why = err instanceof ConnectError ? err.message.replace(/^cannot connect to workspace \S+ at \S+: /, '') : line(err);
  const code = (isWarrenError(err) ? (err.cause as NodeJS.ErrnoException | undefined)?.code : (err as NodeJS.ErrnoException)?.code) ?? '';
  const fix = code === 'ECONNREFUSED' ? `start sshd on the jump host, or correct jumpHosts.${jump.name}.host and port (${jump.host}:${jump.port})`
    : `check that ${at.split('@')[1]} is reachable from this host and that sshd answers there`;
  return [{ step: 'via reach', status: 'fail', detail: `jump host ${jump.name}: ${why}`, fix }];
}

function line(err: unknown): string {
  return escapeUnsafe(firstLine(err instanceof Error ? err.message : String(err)));
}
