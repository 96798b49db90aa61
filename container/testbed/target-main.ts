#!/usr/bin/env node
// CLI wrapper: node dist/container/testbed/target-main.js [--host H] [--port P]
import { parseArgs } from 'node:util';
import { startTargetServer, type TargetServerOptions } from './target-server.js';

function parseOptions(): TargetServerOptions {
  const { values } = parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const opts: TargetServerOptions = {};
  if (values.host !== undefined) {
    // An empty host would make listen() pick every interface, not what anyone meant.
    if (values.host === '') throw new Error('invalid --host: empty');
    opts.host = values.host;
  }
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) throw new Error(`invalid --port: ${values.port}`);
    opts.port = port;
  }
  return opts;
}

let opts: TargetServerOptions;
try {
  opts = parseOptions();
} catch (err) {
  process.stderr.write(`target: ${(err as Error).message.split('\n')[0]}\n`);
  process.exit(2);
}

try {
  const target = await startTargetServer(opts);
  process.stdout.write(`target listening on ${target.url}\n`);
  // close() destroys open sockets, so SSE streams and hung requests cannot hold the exit up.
  const stop = () => {
    target.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`target: close failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (err) {
  process.stderr.write(`target: cannot listen: ${(err as Error).message}\n`);
  process.exit(1);
}
