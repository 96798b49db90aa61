// The control socket `warren status` talks to: a unix socket, mode 0600, one JSON
// request line in, one JSON answer line out.
import fs from 'node:fs';
import net from 'node:net';
import type { Logger } from '../log.js';
import type { Broker } from './broker.js';
import { listenPrivate, prepareSocketPath } from './socket-file.js';

export interface ControlServer { readonly path: string; close(): Promise<void> }

export async function startControl(broker: Broker, file: string, logger: Logger): Promise<ControlServer> {
  await prepareSocketPath(file, 'control socket');
  const conns = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    conns.add(sock);
    sock.once('close', () => conns.delete(sock));
    sock.on('error', () => {});
    sock.setTimeout(10_000, () => sock.destroy());
    let buf = '';
    sock.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      if (buf.length > 64 * 1024) return sock.destroy();
      const i = buf.indexOf('\n');
      if (i < 0) return;
      let answer: unknown;
      try {
        const req = JSON.parse(buf.slice(0, i)) as { cmd?: string };
        answer = req.cmd === 'status' ? broker.status() : { error: { code: 'WARREN_ERR_BAD_REQUEST', message: `unknown command ${JSON.stringify(req.cmd)}` } };
      } catch {
        answer = { error: { code: 'WARREN_ERR_BAD_REQUEST', message: 'one JSON object per line, e.g. {"cmd":"status"}' } };
      }
      sock.end(`${JSON.stringify(answer)}\n`);
    });
  });
  await listenPrivate(server, file, 'control socket');
  logger.info({ socket: file }, 'control socket listening');
  return {
    path: file,
    close: () => new Promise<void>((resolve) => {
      for (const c of conns) c.destroy();
      server.close(() => {
        fs.rmSync(file, { force: true });
        resolve();
      });
    }),
  };
}
