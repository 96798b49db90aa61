// An `ssh -L`-style listener for tools that need a port: each TCP connection on
// 127.0.0.1 becomes a channel to the target inside the workspace. Off by default;
// warren's own traffic uses channels directly.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Link } from './link.js';

export interface LocalForward {
  readonly port: number;
  readonly host: '127.0.0.1';
  close(): Promise<void>;
}

export function startLocalForward(link: Link, target: { host: string; port: number }, o: { port?: number } = {}): Promise<LocalForward> {
  const open = new Set<net.Socket | Duplex>();
  const server = net.createServer((local) => {
    open.add(local);
    local.once('close', () => open.delete(local));
    local.on('error', () => {});
    local.pause();
    link.openSocket(target.host, target.port).then((remote) => {
      if (local.destroyed) {
        remote.destroy();
        return;
      }
      open.add(remote);
      remote.once('close', () => {
        open.delete(remote);
        local.destroy();
      });
      remote.on('error', () => local.destroy());
      local.once('close', () => remote.destroy());
      local.pipe(remote);
      remote.pipe(local);
      local.resume();
    }, () => local.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // Loopback only: a forward must never be reachable from another machine.
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as net.AddressInfo).port,
        host: '127.0.0.1',
        close: () => new Promise<void>((res) => {
          for (const s of open) s.destroy();
          server.close(() => res());
        }),
      });
    });
  });
}
