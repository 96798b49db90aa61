// A call to opencode that breaks below HTTP (the connection closed mid-request, as
// when opencode is killed while answering) is a WarrenError with a code, not one of
// undici's own errors, and the next request checks the server again. Found by the soak (bench/chaos.ts).
import net from 'node:net';
import t from 'tap';
import { Agent } from 'undici';
import { callServer } from '../src/opencode/api.js';
import type { OpencodeServer } from '../src/opencode/server.js';
import { isWarrenError } from '../src/errors.js';

t.test('a connection closed mid-request is WARREN_ERR_SERVER_GONE, and the server is marked gone', async (t) => {
  // Reads the request, then closes without answering.
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
  const server = {
    baseUrl: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    dispatcher, authorization: () => 'Basic x', acquire: () => () => {}, markGone: (why: string) => { gone.push(why); },
  } as unknown as OpencodeServer;
  const err = await callServer(server, 'alpha', '/session/ses_x/prompt_async', { method: 'POST', body: {} }).then(() => null, (e: unknown) => e);
  t.ok(isWarrenError(err), `a WarrenError, not ${String(err)}`);
  t.match(err, { code: 'WARREN_ERR_SERVER_GONE' });
  t.same(gone, ['it closed the connection'], 'the next request checks the server again (restart or adopt)');
});
