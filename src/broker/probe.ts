// Proving one workspace end to end, for `warren check`: the steps a link and a
// server need, each tried once and reported in words, without starting anything
// or retrying. One SSH connection (the same connect as a link's, so the same pin
// check and the same error classes), then a forward to opencode's port and two
// short commands. A step that cannot be tried because an earlier one failed is
// "skipped", never "ok".
//
//   [via reach ─▶ via hostkey ─▶ via auth ─▶ via forward ─▶]   (probe-jump.ts)
//   reach sshd ─▶ host key ─▶ key auth ─▶ forwarding
//                                     ├─▶ opencode
//                                     └─▶ importFrom
import type { Client } from 'ssh2';
import type { WorkspaceConfig } from '../config/index.js';
import { AuthError, ConnectError, HostKeyMismatchError, isWarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import { connectClient, endClient, readPrivateKey } from '../ssh/connect.js';
import { runExec } from '../ssh/exec.js';
import { openForward } from '../ssh/forward.js';
import { Semaphore } from '../ssh/semaphore.js';
import { describeTransport, type Transport } from '../ssh/transport.js';
import { escapeUnsafe, firstLine as remoteFirstLine } from '../text.js';
import { JUMP_STEPS, probeJumpHop, type JumpHop, type JumpStep } from './probe-jump.js';

export type ProbeStep = 'reach sshd' | 'host key' | 'key auth' | 'forwarding' | 'opencode' | 'importFrom';
export const PROBE_STEPS: readonly ProbeStep[] = ['reach sshd', 'host key', 'key auth', 'forwarding', 'opencode', 'importFrom'];

export interface StepResult {
  /** A jump host's steps come first, for a workspace behind one. */
  step: ProbeStep | JumpStep;
  status: 'ok' | 'fail' | 'skipped';
  /** What was found, one line. */
  detail: string;
  /** For a failure: what to do, one line. */
  fix?: string;
}

export interface WorkspaceProbe {
  workspace: string;
  /** user@host:port, or the transport command. */
  target: string;
  ok: boolean;
  steps: StepResult[];
}

export interface ProbeOptions {
  logger: Logger;
  /** Transport plus SSH handshake. */
  connectTimeoutMs?: number;
  /** Each forward and each command. */
  stepTimeoutMs?: number;
  limiter?: Semaphore;
  signal?: AbortSignal;
}

const VERSION_SCRIPT = 'command -v "$1" >/dev/null 2>&1 || { echo "not found on the login PATH ($PATH)" >&2; exit 127; }; exec "$1" --version';
// Per directory: "ok", "missing", "unreadable" or "empty" (no opencode/ data inside).
const IMPORT_SCRIPT = `for d; do
  if [ ! -e "$d" ]; then echo "missing $d"
  elif [ ! -d "$d" ] || [ ! -r "$d" ] || [ ! -x "$d" ]; then echo "unreadable $d"
  elif [ -e "$d/opencode" ] && { [ ! -r "$d/opencode" ] || [ ! -x "$d/opencode" ]; }; then echo "unreadable $d/opencode"
  elif [ ! -e "$d/opencode" ]; then echo "empty $d"
  else echo "ok $d"; fi
done`;

/** The workspace's transport as its target is written; a jump's channel is opened by probeJumpHop. */
export function transportOf(ws: WorkspaceConfig): Transport {
  const t = ws.transport;
  if (t.kind === 'command') return { kind: 'command', argv: t.argv };
  if (t.kind === 'jump') return { kind: 'jump', host: ws.host, port: ws.port, via: { name: t.via, openSocket: () => Promise.reject(new Error('the jump hop was not proven')) } };
  return { kind: 'tcp', host: ws.host, port: ws.port };
}

export async function probeWorkspace(ws: WorkspaceConfig, o: ProbeOptions): Promise<WorkspaceProbe> {
  let transport = transportOf(ws);
  const target = `${ws.user}@${describeTransport(transport)}`;
  const order: ReadonlyArray<ProbeStep | JumpStep> = ws.transport.kind === 'jump' ? [...JUMP_STEPS, ...PROBE_STEPS] : PROBE_STEPS;
  const steps: StepResult[] = [];
  const done = (): WorkspaceProbe => {
    for (const step of order) {
      if (!steps.some((s) => s.step === step)) steps.push({ step, status: 'skipped', detail: 'not tried, since a step before failed' });
    }
    steps.sort((a, b) => order.indexOf(a.step) - order.indexOf(b.step));
    return { workspace: ws.name, target, ok: steps.every((s) => s.status !== 'fail'), steps };
  };

  let key: Buffer;
  try {
    key = readPrivateKey(ws.name, ws.privateKeyPath);
  } catch (err) {
    steps.push({ step: 'key auth', status: 'fail', detail: (err as Error).message, fix: 'make privateKeyPath name a private key file this user can read' });
    return done();
  }

  const controller = new AbortController();
  const onAbort = () => controller.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let hop: JumpHop | null = null;
  if (ws.transport.kind === 'jump') {
    hop = await probeJumpHop(ws, ws.transport.jumpHost, {
      logger: o.logger, connectTimeoutMs: o.connectTimeoutMs ?? 10_000, stepTimeoutMs: o.stepTimeoutMs ?? 15_000, signal: controller.signal,
      ...(o.limiter ? { limiter: o.limiter } : {}),
    });
    steps.push(...hop.steps);
    if (hop.transport === null) {
      o.signal?.removeEventListener('abort', onAbort);
      return done();
    }
    transport = hop.transport;
  }
  try {
    return await probeThrough(ws, transport, key, steps, controller.signal, o, done);
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await hop?.close();
  }
}

async function probeThrough(ws: WorkspaceConfig, transport: Transport, key: Buffer, steps: StepResult[], signal: AbortSignal, o: ProbeOptions, done: () => WorkspaceProbe): Promise<WorkspaceProbe> {
  const target = `${ws.user}@${describeTransport(transport)}`;
  const started = Date.now();
  let client: Client;
  try {
    client = await connectClient({
      name: ws.name, target, user: ws.user, transport, privateKey: key, hostKeyFingerprints: ws.hostKeyFingerprints,
      readyTimeoutMs: o.connectTimeoutMs ?? 10_000, limiter: o.limiter ?? new Semaphore(1), logger: o.logger,
    }, signal, { onCipher: () => {} });
  } catch (err) {
    steps.push(...connectFailure(ws, err));
    return done();
  }
  steps.push(
    { step: 'reach sshd', status: 'ok', detail: `${describeTransport(transport)}, handshake in ${Date.now() - started} ms` },
    { step: 'host key', status: 'ok', detail: pinnedDetail(ws) },
    { step: 'key auth', status: 'ok', detail: `logged in as ${ws.user}` },
  );
  try {
    const stepMs = o.stepTimeoutMs ?? 15_000;
    steps.push(await probeForwarding(client, ws, stepMs));
    steps.push(await probeOpencode(client, ws, stepMs));
    steps.push(await probeImportFrom(client, ws, stepMs));
  } finally {
    await endClient(client);
  }
  return done();
}

function connectFailure(ws: WorkspaceConfig, err: unknown): StepResult[] {
  if (err instanceof HostKeyMismatchError) {
    return [
      { step: 'reach sshd', status: 'ok', detail: 'sshd answered' },
      {
        step: 'host key', status: 'fail', detail: `the host presents ${err.actual}, the config pins ${err.expected.join(' or ')}`,
        fix: err.expected.length === 1
          ? `if the workspace's host key changed on purpose (verify it out of band), put in the config: "hostKeyFingerprint": "${err.actual}"`
          : `if the workspace's host key was rotated on purpose (verify it out of band), add "${err.actual}" to hostKeyFingerprints`,
      },
    ];
  }
  if (err instanceof AuthError) {
    return [
      { step: 'reach sshd', status: 'ok', detail: 'sshd answered' },
      { step: 'host key', status: 'ok', detail: pinnedDetail(ws) },
      {
        step: 'key auth', status: 'fail', detail: `sshd refused the key ${ws.privateKeyPath} for user ${ws.user}`,
        fix: `add the key's public half to ~${ws.user}/.ssh/authorized_keys in the workspace, or fix user / privateKeyPath`,
      },
    ];
  }
  const why = err instanceof ConnectError ? err.message.replace(/^cannot connect to workspace \S+ at \S+: /, '') : errorLine(err);
  const code = (isWarrenError(err) ? (err.cause as NodeJS.ErrnoException | undefined)?.code : (err as NodeJS.ErrnoException)?.code) ?? '';
  const fix = ws.transport.kind === 'command'
    ? 'check that the transport command runs on this host and starts sshd -i in the workspace'
    : ws.transport.kind === 'jump' ? `the jump host reached ${ws.host}:${ws.port}, but no SSH handshake followed there: check that it is the workspace's sshd`
    : code === 'ECONNREFUSED' ? `start sshd in the workspace, or correct host and port (${ws.host}:${ws.port})`
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? `correct host (${ws.host}): this host cannot resolve it`
        : `check that ${ws.host}:${ws.port} is reachable from this host and that sshd answers there`;
  return [{ step: 'reach sshd', status: 'fail', detail: why, fix }];
}

function pinnedDetail(ws: WorkspaceConfig): string {
  const pins = ws.hostKeyFingerprints;
  return pins.length === 1 ? `${pins[0]} as pinned` : `one of the ${pins.length} pins (${pins.join(', ')})`;
}

function probeForwarding(client: Client, ws: WorkspaceConfig, timeoutMs: number): Promise<StepResult> {
  const to = `127.0.0.1:${ws.opencode.port}`;
  return openForward(client, '127.0.0.1', ws.opencode.port, timeoutMs, {
    onPending: () => () => {},
    timeoutError: () => new Error(`no answer to the forward within ${timeoutMs} ms`),
    openError: (err) => Object.assign(new Error(err.message), { reason: err.reason }),
    sendError: (err) => err,
  }).then((ch): StepResult => {
    ch.on('error', () => {});
    ch.close();
    return { step: 'forwarding', status: 'ok', detail: `permitted to ${to} (something listens there: opencode serve, or another program)` };
  }, (err: Error & { reason?: number }): StepResult => {
    // 2 (connect failed): sshd allowed the forward and found nothing listening, which is
    // what a workspace without a running server answers.
    if (err.reason === 2) return { step: 'forwarding', status: 'ok', detail: `permitted to ${to} (nothing listens there yet)` };
    if (err.reason === 1) {
      return {
        step: 'forwarding', status: 'fail', detail: `sshd refuses to forward to ${to} (administratively prohibited)`,
        fix: `allow it in the workspace's sshd_config: AllowTcpForwarding local (or yes), and PermitOpen ${to} or any`,
      };
    }
    return { step: 'forwarding', status: 'fail', detail: `forward to ${to} failed: ${errorLine(err)}`, fix: 'see the workspace\'s sshd log' };
  });
}

async function probeOpencode(client: Client, ws: WorkspaceConfig, timeoutMs: number): Promise<StepResult> {
  const cmd = ws.opencode.command;
  try {
    const r = await exec(client, ws, ['sh', '-lc', VERSION_SCRIPT, 'warren-check', cmd], timeoutMs);
    const version = r.stdout.trim().split('\n').pop() ?? '';
    if (r.code === 0 && /^\d+\.\d+\.\d+\S*$/.test(version)) return { step: 'opencode', status: 'ok', detail: `${version} (${escapeUnsafe(cmd)})` };
    const why = r.code === 127 ? `${escapeUnsafe(cmd)} is not found on ${ws.user}'s login PATH` : `${escapeUnsafe(cmd)} --version exited ${r.code ?? r.signal}: ${firstLine(r.stderr || r.stdout)}`;
    return { step: 'opencode', status: 'fail', detail: why, fix: 'install opencode in the workspace (npm i -g opencode-ai), or set opencode.command to its full path' };
  } catch (err) {
    return { step: 'opencode', status: 'fail', detail: errorLine(err), fix: 'see the workspace\'s sshd log' };
  }
}

async function probeImportFrom(client: Client, ws: WorkspaceConfig, timeoutMs: number): Promise<StepResult> {
  if (ws.importFrom.length === 0) return { step: 'importFrom', status: 'ok', detail: 'none configured (the user\'s own data directory is searched)' };
  try {
    const r = await exec(client, ws, ['sh', '-c', IMPORT_SCRIPT, 'warren-check', ...ws.importFrom], timeoutMs);
    const lines = r.stdout.split('\n').filter(Boolean);
    const bad = lines.filter((l) => !l.startsWith('ok ') && !l.startsWith('empty '));
    const empty = lines.filter((l) => l.startsWith('empty '));
    if (r.code !== 0 || lines.length !== ws.importFrom.length) {
      return { step: 'importFrom', status: 'fail', detail: `the check did not run: ${firstLine(r.stderr) || `exit ${r.code}`}`, fix: 'see the workspace\'s sshd log' };
    }
    if (bad.length > 0) {
      const what = bad.map((l) => { const [kind, ...d] = l.split(' '); return `${escapeUnsafe(d.join(' '))} ${kind === 'missing' ? 'does not exist' : 'is not readable'}`; });
      return { step: 'importFrom', status: 'fail', detail: what.join('; '), fix: `create the directories or give ${ws.user} read access, or remove them from importFrom` };
    }
    const note = empty.length > 0 ? ` (${empty.length === 1 ? '1 holds' : `${empty.length} hold`} no opencode/ data yet)` : '';
    return { step: 'importFrom', status: 'ok', detail: `${ws.importFrom.length} director${ws.importFrom.length === 1 ? 'y' : 'ies'} readable${note}` };
  } catch (err) {
    return { step: 'importFrom', status: 'fail', detail: errorLine(err), fix: 'see the workspace\'s sshd log' };
  }
}

function exec(client: Client, ws: WorkspaceConfig, argv: string[], timeoutMs: number) {
  return runExec(client, argv, { timeoutMs, maxOutputBytes: 64 * 1024 }, {
    counters: { bytesIn: 0, bytesOut: 0 },
    onChannel: () => () => {},
    timeoutError: (cmd, ms) => new Error(`${cmd} did not finish within ${ms} ms`),
    failedError: (cmd, why) => new Error(`cannot run ${cmd} in workspace ${ws.name}: ${why}`),
  });
}

function errorLine(err: unknown): string {
  return firstLine(err instanceof Error ? err.message : String(err));
}

/** What a workspace says reaches the operator's terminal as one safe line. */
function firstLine(s: string): string {
  return escapeUnsafe(remoteFirstLine(s));
}
