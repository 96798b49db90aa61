// The control socket `warren status` and `warren attach` talk to: a unix socket,
// mode 0600, one JSON request line in ({"cmd": ...}), one JSON answer line out.
// A failed command answers {"error":{"code","message"}}.
import fs from 'node:fs';
import net from 'node:net';
import { isWarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import { listenPrivate, prepareSocketPath } from './socket-file.js';

export interface ControlServer { readonly path: string; close(): Promise<void> }

/** One handler per command; what it returns (or throws) is the answer. */
export type ControlHandlers = Record<string, (req: Record<string, unknown>) => unknown>;

export async function startControl(handlers: ControlHandlers, file: string, logger: Logger): Promise<ControlServer> {
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
      sock.pause();
      // A command may take a while (attach starts a server); the caller's deadline rules.
      sock.setTimeout(0);
      void answer(handlers, buf.slice(0, i), logger).then((a) => { if (!sock.destroyed) sock.end(`${JSON.stringify(a)}\n`); });
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

async function answer(handlers: ControlHandlers, line: string, logger: Logger): Promise<unknown> {
  let req: Record<string, unknown>;
  try {
    req = JSON.parse(line) as Record<string, unknown>;
    if (typeof req !== 'object' || req === null) throw new Error('not an object');
  } catch {
    return { error: { code: 'WARREN_ERR_BAD_REQUEST', message: 'one JSON object per line, e.g. {"cmd":"status"}' } };
  }
  const handler = typeof req.cmd === 'string' && Object.hasOwn(handlers, req.cmd) ? handlers[req.cmd] : undefined;
  if (!handler) return { error: { code: 'WARREN_ERR_BAD_REQUEST', message: `unknown command ${JSON.stringify(req.cmd)}; known: ${Object.keys(handlers).join(', ')}` } };
  try {
    return await handler(req);
  } catch (err) {
    if (isWarrenError(err)) return { error: { code: err.code, message: err.message } };
    logger.error({ err, cmd: req.cmd }, 'control command failed');
    return { error: { code: 'WARREN_ERR_INTERNAL', message: 'the command failed inside the daemon; see its log' } };
  }
}
