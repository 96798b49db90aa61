// Closing after an answer given before the request body was read (401, 413, 404, 405…).
//
// Why: such a connection must close (reading and discarding a gigabyte until the request
// timeout is no answer), but closing a socket while the client's body is still arriving
// leaves unread bytes in the kernel's receive queue, and Linux then sends RST instead of
// FIN. The RST makes the client's kernel throw away whatever it has not read yet, our
// answer included: the client sees EPIPE or ECONNRESET ("fetch failed") and never the 413.
// Mature servers close lingeringly (nginx's lingering_close, Apache's lingering close):
// send the answer, half-close (FIN), keep reading and discarding what still comes for a
// bounded time, then close. So does this:
//   - the FIN goes out after the answer: socket.end() queues it behind the written bytes;
//   - what arrives meanwhile is dropped as it is parsed, never buffered (memory stays flat);
//   - the socket is destroyed once the client closes its side, or has sent nothing for
//     IDLE_MS, or at the latest TOTAL_MS after the answer, however fast it keeps sending.
// A well-behaved client (curl, undici, node:http) stops sending when it sees the answer and
// closes, so lingering mostly lasts a round trip. Nothing outlives TOTAL_MS: one timer per
// lingering socket, cleared when it closes; on shutdown the gateway cuts lingering sockets
// after SHUTDOWN_MS (they have their answer), well inside its grace period.
//
// The bounds: TOTAL_MS is nginx's lingering_time (30 s). undici's fetch with a streamed
// body may not read an early answer for seconds while it writes on: once 624 MiB over
// 10 s here, on a busy machine, its 413 unread when a shorter bound cut it (EPIPE); within
// 30 s it has sent even 1 GB and reads the answer. IDLE_MS (nginx: 5 s): a client that
// stalls between our answer and its next write writes again after we let go, gets RST,
// and its kernel drops the answer it had not read. Reading on costs no memory (dropped as
// parsed); shutdown does not wait for it (SHUTDOWN_MS).
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export const LINGER = { TOTAL_MS: 30_000, IDLE_MS: 2000, TICK_MS: 100, SHUTDOWN_MS: 500 } as const;

const lingering = new WeakSet<Socket>();

/** Whether the socket is closing lingeringly: its answer is written, what arrives is dropped. */
export function isLingering(socket: Socket): boolean {
  return lingering.has(socket);
}

/**
 * Marks the response as the connection's last and, once it is written, closes the
 * connection lingeringly. Call before the response is ended.
 */
export function closeLingeringAfter(res: ServerResponse): void {
  res.setHeader('connection', 'close');
  const socket = res.socket;
  if (!socket || socket.destroyed) return;
  // With `connection: close`, Node's HTTP server calls socket.destroySoon() once the
  // response is written: end, then destroy as soon as the FIN is out, which is the RST.
  // Here it only ends; linger() decides when to destroy.
  socket.destroySoon = () => { socket.end(); };
  res.once('finish', () => linger(socket, res));
}

function linger(socket: Socket, res: ServerResponse): void {
  if (socket.destroyed) return;
  lingering.add(socket);
  // Body bytes still arriving go through Node's HTTP parser into the request. A request
  // marked dumped has them dropped as parsed; one that a reader destroyed (a for-await
  // that gave up at the limit) would instead pause the socket, and unread bytes are what
  // this is about, so read on. (_dump is Node's own, what its server calls on a request
  // nobody read; should it ever go, a paused socket still ends at IDLE_MS.)
  (res.req as { _dump?: () => void })._dump?.();
  socket.resume();
  socket.end();
  const started = Date.now();
  let seen = socket.bytesRead;
  let lastRead = started;
  const tick = setInterval(() => {
    const now = Date.now();
    if (socket.bytesRead !== seen) {
      seen = socket.bytesRead;
      lastRead = now;
    }
    if (now - lastRead >= LINGER.IDLE_MS || now - started >= LINGER.TOTAL_MS) socket.destroy();
  }, LINGER.TICK_MS);
  tick.unref();
  socket.once('close', () => clearInterval(tick));
  // The client closing its side ends the request; Node's server then destroys the socket
  // (an incomplete body is a parse error) or, past a complete one, ends it: either way
  // 'close' follows. destroy() here makes sure of it.
  socket.once('end', () => socket.destroy());
}
