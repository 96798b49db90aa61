// Listening for the test bed's own HTTP servers (fake model, HTTP target) so that
// close() really ends everything: stops listening, destroys every socket (hung
// requests and endless streams included) and clears the timers they registered.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface Listening { port: number; host: string; urlHost: string; close(): Promise<void> }

export function listenClosable(server: Server, o: { host: string; port?: number; timers: Set<NodeJS.Timeout> }): Promise<Listening> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      for (const timer of o.timers) clearTimeout(timer);
      o.timers.clear();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host, () => {
      server.off('error', reject);
      const port = (server.address() as { port: number }).port;
      resolve({ port, host: o.host, urlHost: o.host.includes(':') ? `[${o.host}]` : o.host, close });
    });
  });
}
