// A call to opencode that breaks below HTTP is a WarrenError with a code, never one of
// undici's own errors, and brokenCall tells a dropped link from a dead server by
// asking the link and the port, not by the error's text. The connection here is a
// real socket closed mid-request (as when opencode is killed while answering); the
// link and the server around it are plain objects, so each case of the decision
// can be set up exactly. Every case on a real sshd and opencode is in the fault tests.
import net from 'node:net';
import t, { type Test } from 'tap';
import { Agent } from 'undici';
import { brokenCall, callServer } from '../src/opencode/api.js';
import type { OpencodeServer } from '../src/opencode/server.js';
import { isWarrenError, LinkLostError } from '../src/errors.js';

/** A server that reads the request, then closes without answering; and a stand-in for warren's view of it. */
async function closingServer(t: Test, o: { listening: boolean }) {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => { sockets.add(s); s.once('data', () => s.end()); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const dispatcher = new Agent();
  t.teardown(async () => {
    await dispatcher.destroy();
    for (const s of sockets) s.destroy();
    await new Promise((r) => srv.close(r));
  });
  const gone: string[] = [];
  const link = { state: 'up', connection: 1 };
  const server = {
    workspace: 'alpha', link, instance: 1, state: 'running',
    baseUrl: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    dispatcher, authorization: () => 'Basic x', acquire: () => () => {},
    markGone: (why: string) => { gone.push(why); },
    // What the real one learns by opening a channel to the port.
    stillThere: async () => {
      if (o.listening) return true;
      gone.push('nothing listens on its port');
      return false;
    },
  };
  return { server: server as unknown as OpencodeServer, state: server, link, gone };
}

const call = (server: OpencodeServer) => callServer(server, 'alpha', '/session/ses_x/prompt_async', { method: 'POST', body: {} }).then(() => null, (e: unknown) => e);

t.test('a connection closed mid-request with nothing listening any more: SERVER_GONE, and the server is marked gone', async (t) => {
  const { server, gone } = await closingServer(t, { listening: false });
  const err = await call(server);
  t.ok(isWarrenError(err), `a WarrenError, not ${String(err)}`);
  t.match(err, { code: 'WARREN_ERR_SERVER_GONE' });
  t.same(gone, ['nothing listens on its port'], 'the next request checks the server again (restart or adopt)');
});

t.test('a connection closed mid-request while the server still listens: CHANNEL_FAILED, the server is not called gone', async (t) => {
  const { server, gone } = await closingServer(t, { listening: true });
  const err = await call(server);
  t.match(err, { code: 'WARREN_ERR_CHANNEL_FAILED', message: /POST \/session\/ses_x\/prompt_async in workspace alpha failed/ });
  t.same(gone, []);
});

t.test('the link dropped under the call: LINK_LOST, which a message waits out, and the server is left alone', async (t) => {
  const { server, link, gone } = await closingServer(t, { listening: false });
  const origin = { connection: 1, instance: 1 };
  link.state = 'down';
  t.match(await brokenCall(server, origin, new Error('other side closed'), 'GET /x'), { code: 'WARREN_ERR_LINK_LOST' });
  link.state = 'up';
  link.connection = 2;
  t.match(await brokenCall(server, origin, new Error('other side closed'), 'GET /x'), { code: 'WARREN_ERR_LINK_LOST' }, 'also when the link is already up again, on a new connection');
  const lost = new LinkLostError('alpha', 'keepalive');
  t.equal(await brokenCall(server, { connection: 2, instance: 1 }, lost, 'GET /x'), lost, "the link's own error passes as it is");
  t.same(gone, []);
});

t.test('the server the call began on was replaced meanwhile: SERVER_GONE, though another listens on the port now', async (t) => {
  const { server, state, gone } = await closingServer(t, { listening: true });
  state.instance = 2;
  const err = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
  t.match(await brokenCall(server, { connection: 1, instance: 1 }, err, 'GET /x'), { code: 'WARREN_ERR_SERVER_GONE' });
  t.same(gone, [], 'the new server is not marked gone');
});
