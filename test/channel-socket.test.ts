// The channel socket's contract, with a stand-in for an ssh2 channel so the event
// orders that only happen under load can be produced on purpose.
import t from 'tap';
import { EventEmitter } from 'node:events';
import type { ClientChannel } from 'ssh2';
import { ChannelSocket } from '../src/ssh/channel-socket.js';

class FakeChannel extends EventEmitter {
  written: Buffer[] = [];
  closed = false;
  paused = false;
  write(b: Buffer): boolean { this.written.push(b); return true; }
  end(): void {}
  close(): void { this.closed = true; }
  pause(): this { this.paused = true; return this; }
  resume(): this { this.paused = false; return this; }
}

function socketOver(ch: FakeChannel) {
  const counters = { bytesIn: 0, bytesOut: 0 };
  let closes = 0;
  const sock = new ChannelSocket(ch as unknown as ClientChannel, { remoteAddress: '127.0.0.1', remotePort: 1, counters, onClose: () => { closes++; } });
  return { sock, counters, closes: () => closes };
}

t.test('data, end and close in one tick: the reader gets everything and a clean end', async (t) => {
  const ch = new FakeChannel();
  const { sock, counters, closes } = socketOver(ch);
  ch.emit('data', Buffer.from('hello '));
  ch.emit('data', Buffer.from('world'));
  ch.emit('end');
  ch.emit('close');
  let got = '';
  for await (const chunk of sock) got += String(chunk);
  t.equal(got, 'hello world');
  t.equal(counters.bytesIn, 11);
  await new Promise((r) => setImmediate(r));
  t.equal(closes(), 1, 'closed once');
});

t.test('close without EOF still ends the reader cleanly', async (t) => {
  const ch = new FakeChannel();
  const { sock } = socketOver(ch);
  ch.emit('data', Buffer.from('partial'));
  ch.emit('close');
  let got = '';
  for await (const chunk of sock) got += String(chunk);
  t.equal(got, 'partial');
});

t.test('destroy with an error: the error reaches the reader, the channel is closed and drained', async (t) => {
  const ch = new FakeChannel();
  const { sock, closes } = socketOver(ch);
  const err = Object.assign(new Error('headers timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
  const seen = new Promise<Error>((resolve) => sock.once('error', resolve));
  sock.destroy(err);
  t.equal(await seen, err, 'the very error object');
  t.ok(sock.destroyed);
  t.ok(ch.closed, 'CHANNEL_CLOSE sent');
  t.notOk(ch.paused, 'the channel keeps being drained');
  ch.emit('error', new Error('late'));
  t.pass('late channel errors are swallowed');
  await new Promise((r) => setImmediate(r));
  t.equal(closes(), 1);
});

t.test('writes are counted and passed on; socket methods are harmless', async (t) => {
  const ch = new FakeChannel();
  const { sock, counters } = socketOver(ch);
  sock.setNoDelay().setKeepAlive().setTimeout(5).ref().unref();
  await new Promise<void>((resolve) => sock.write(Buffer.from('abc'), () => resolve()));
  t.equal(Buffer.concat(ch.written).toString(), 'abc');
  t.equal(counters.bytesOut, 3);
  t.equal(sock.connecting, false);
  sock.destroy();
});
