// Stands in for `opencode serve` in the gateway benchmarks, so that the gateway's
// pass-through (/v1/workspaces/:ws/opencode/*) reaches the same tiny HTTP target
// (container/testbed/target-server.ts) as every other path compared. warren starts
// it exactly as it starts opencode (its start script, `CMD serve --port P
// --hostname 127.0.0.1`, the password in OPENCODE_SERVER_PASSWORD); it answers
// warren's health check as opencode does and serves the target's routes beside it.
import { parseArgs } from 'node:util';
import { startTargetServer } from '../container/testbed/target-server.js';

const { values, positionals } = parseArgs({ options: { port: { type: 'string' }, hostname: { type: 'string' } }, allowPositionals: true });
if (positionals[0] !== 'serve' || !values.port || !values.hostname) {
  process.stderr.write('usage: fake-opencode serve --port P --hostname H\n');
  process.exit(2);
}
const expected = `Basic ${Buffer.from(`opencode:${process.env.OPENCODE_SERVER_PASSWORD ?? ''}`).toString('base64')}`;
delete process.env.OPENCODE_SERVER_PASSWORD;
const HEALTH = JSON.stringify({ healthy: true, version: 'bench-fake' });

const target = await startTargetServer({
  host: values.hostname, port: Number(values.port),
  route: (req, res) => {
    if (req.url !== '/global/health') return false;
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="opencode"', 'content-length': 0 }).end();
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(HEALTH) }).end(HEALTH);
    }
    return true;
  },
});
// warren's start script waits for opencode's own listening line.
process.stdout.write(`opencode server listening on ${target.url}\n`);
const stop = () => void target.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
