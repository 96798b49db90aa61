// Network probes for tests: each has a deadline and always closes what it opens.
import net from 'node:net';
import { Client } from 'ssh2';
import { createHash } from 'node:crypto';
import fs from 'node:fs';

export type Probe = 'open' | 'refused' | 'unreachable' | 'timeout';

export function probeTcp(host: string, port: number, timeoutMs = 2000): Promise<Probe> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (p: Probe) => { sock.destroy(); resolve(p); };
    sock.setTimeout(timeoutMs, () => done('timeout'));
    sock.once('connect', () => done('open'));
    sock.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'refused' : 'unreachable'));
  });
}

/** Every open TCP port of host in [from, to], scanned with bounded concurrency. */
export async function openPorts(host: string, from = 1, to = 65535, concurrency = 256): Promise<number[]> {
  const open: number[] = [];
  let next = from;
  const worker = async () => {
    while (next <= to) {
      const port = next++;
      if ((await probeTcp(host, port, 1000)) === 'open') open.push(port);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return open.sort((a, b) => a - b);
}

export interface HandshakeResult { fingerprint: string; authenticated: boolean; error?: string }

/** Connects with ssh2, records the host key's SHA256 fingerprint and whether login succeeded. */
export function sshHandshake(o: { host: string; port: number; user: string; privateKeyPath: string }, timeoutMs = 10_000): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    const c = new Client();
    let fingerprint = '';
    const timer = setTimeout(() => finish({ fingerprint, authenticated: false, error: 'timeout' }), timeoutMs);
    let settled = false;
    function finish(r: HandshakeResult) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      c.end();
      c.destroy();
      resolve(r);
    }
    c.on('ready', () => finish({ fingerprint, authenticated: true }));
    c.on('error', (err) => finish({ fingerprint, authenticated: false, error: err.message }));
    c.connect({
      host: o.host, port: o.port, username: o.user, privateKey: fs.readFileSync(o.privateKeyPath), readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => {
        fingerprint = `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
        return true;
      },
    });
  });
}
