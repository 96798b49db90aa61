// One attempt to reach a workspace's sshd: a turn at the handshake limiter, the
// transport, then the SSH handshake against the pinned host key. This is the one
// place an ssh2 Client is made, and always with the verifier below: a host key
// whose fingerprint is not the pinned one fails the attempt, whatever else the
// peer says. Failures come out as WarrenErrors in words (refused, unreachable,
// authentication, timeout), so the link can record and show them as they are.
import fs from 'node:fs';
import type { Duplex } from 'node:stream';
import { Client } from 'ssh2';
import { AuthError, ConnectError, HostKeyMismatchError, KeyReadError, isWarrenError, type WarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import { fingerprintOf, pinned } from '../host-key.js';
import type { Semaphore } from './semaphore.js';
import { openTransport, type Transport } from './transport.js';

/** Transport connect plus SSH handshake, when the link's options give none. */
export const DEFAULT_READY_TIMEOUT_MS = 10_000;

export interface ConnectOptions {
  /** The workspace, for messages. */
  name: string;
  /** user@transport, for messages. */
  target: string;
  user: string;
  transport: Transport;
  privateKey: Buffer;
  /** SHA256:... pins; the host key must have one of them. */
  hostKeyFingerprints: readonly string[];
  /** Transport connect plus SSH handshake. */
  readyTimeoutMs: number;
  /** Handshakes in progress at once (see semaphore.ts). */
  limiter: Semaphore;
  logger: Logger;
  /** A jump transport: reject at once with the jump link's error when it failed in a way retrying does not heal. */
  failFast?: boolean;
}

export interface ConnectHooks {
  /** Each completed key exchange, the first and any re-key: the client-to-server cipher. */
  onCipher(cipher: string): void;
}

/** Each client's transport: ssh2's destroy() skips a socket that end() already made unwritable. */
const transports = new WeakMap<Client, Duplex>();

/** Resolves with a client that is ready; an abort ends the attempt with the signal's reason. */
export async function connectClient(o: ConnectOptions, signal: AbortSignal, hooks: ConnectHooks): Promise<Client> {
  try {
    if (o.transport.kind === 'jump') await viaUp(o, o.transport.via, signal);
    const release = await o.limiter.acquire(signal);
    try {
      const deadline = Date.now() + o.readyTimeoutMs;
      let sock: Duplex;
      try {
        sock = await openTransport(o.transport, { timeoutMs: o.readyTimeoutMs, signal, logger: o.logger });
      } catch (err) {
        if (isWarrenError(err)) throw err;
        throw new ConnectError(o.name, o.target, describeConnectFailure(err as NodeJS.ErrnoException), err);
      }
      return await handshake(o, sock, Math.max(1, deadline - Date.now()), signal, hooks);
    } finally {
      release();
    }
  } catch (err) {
    throw toWarrenError(err, o.name, o.target);
  }
}

/**
 * Waits for a jump transport's link, up to the attempt's timeout. Not through the
 * limiter: a hundred links behind a jump host that is down would otherwise hold
 * every turn while the jump host's own reconnect waits for one.
 */
async function viaUp(o: ConnectOptions, via: { waitForUp?(ms: number, o?: { failFast?: boolean }): Promise<void>; readonly name: string }, signal: AbortSignal): Promise<void> {
  if (!via.waitForUp) return;
  if (signal.aborted) throw signal.reason;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([via.waitForUp(o.readyTimeoutMs, { failFast: o.failFast ?? false }), aborted]);
  } catch (err) {
    if (signal.aborted) throw err;
    throw new ConnectError(o.name, o.target, `jump host ${via.name} is not up (${(err as Error).message})`, err);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}

function handshake(o: ConnectOptions, sock: Duplex, timeoutMs: number, signal: AbortSignal, hooks: ConnectHooks): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    transports.set(client, sock);
    let mismatch: HostKeyMismatchError | undefined;
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      cleanup();
      client.on('error', () => {});
      client.destroy();
      sock.destroy();
      if (mismatch) return reject(mismatch);
      reject(toWarrenError(err, o.name, o.target));
    };
    const onAbort = () => fail(signal.reason as Error);
    const onClose = () => fail(new Error('connection closed during the SSH handshake'));
    const cleanup = () => {
      signal.removeEventListener('abort', onAbort);
      client.off('error', fail);
      client.off('close', onClose);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    client.on('error', fail);
    client.on('close', onClose);
    client.on('handshake', (neg) => hooks.onCipher(neg.cs.cipher));
    client.once('ready', () => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(client);
    });
    try {
      client.connect({
        sock,
        username: o.user,
        privateKey: o.privateKey,
        readyTimeout: timeoutMs,
        // warren's own keepalive (keepalive.ts) measures RTT and has a hard deadline.
        keepaliveInterval: 0,
        hostVerifier: (key: Buffer) => {
          const actual = fingerprintOf(key);
          if (pinned(actual, o.hostKeyFingerprints)) return true;
          mismatch = new HostKeyMismatchError(o.name, o.target, o.hostKeyFingerprints, actual);
          return false;
        },
      });
    } catch (err) {
      fail(err as Error);
    }
  });
}

/** Ends a client politely, and destroys it and its transport if the peer does not answer within a second. */
export function endClient(client: Client): Promise<void> {
  return new Promise((resolve) => {
    const sock = transports.get(client);
    const destroy = () => {
      client.destroy();
      sock?.destroy();
    };
    client.on('error', () => {});
    const timer = setTimeout(() => {
      destroy();
      resolve();
    }, 1000);
    client.once('close', () => {
      clearTimeout(timer);
      sock?.destroy();
      resolve();
    });
    try {
      client.end();
    } catch {
      destroy();
    }
  });
}

/** The private key at `path`, read once when the link is made, so a bad path fails at once and in words. */
export function readPrivateKey(name: string, path: string | undefined): Buffer {
  if (!path) throw new KeyReadError(name, '(none)', 'give privateKeyPath');
  try {
    return fs.readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new KeyReadError(name, path, e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message);
  }
}

function describeConnectFailure(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED': return 'connection refused (is sshd running? are host and port in the config right?)';
    case 'EHOSTUNREACH': case 'ENETUNREACH': return 'host unreachable (check host in the config and the network)';
    case 'ENOTFOUND': return 'host name not found (check host in the config)';
    case 'EAI_AGAIN': return 'host name lookup failed (DNS did not answer; check the resolver)';
    case 'ETIMEDOUT': return 'connection timed out';
    default: return err.message;
  }
}

function toWarrenError(err: unknown, name: string, target: string): WarrenError {
  if (isWarrenError(err)) return err;
  const e = err as Error & { level?: string; code?: string };
  if (e.level === 'client-authentication') return new AuthError(name, target.split('@')[0] ?? '', target);
  if (e.level === 'client-timeout') return new ConnectError(name, target, 'the SSH handshake timed out', err);
  if (typeof e.code === 'string' && e.code.startsWith('E')) return new ConnectError(name, target, describeConnectFailure(e as NodeJS.ErrnoException), err);
  return new ConnectError(name, target, e.message ?? String(err), err);
}
