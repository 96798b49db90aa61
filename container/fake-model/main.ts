#!/usr/bin/env node
// CLI wrapper: node dist/container/fake-model/main.js [--host H] [--port P] [--mode-file F] [--log-file F]
import { parseArgs } from 'node:util';
import { startFakeModel, type FakeModelOptions } from './server.js';

function parseOptions(): FakeModelOptions {
  const { values } = parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'mode-file': { type: 'string' },
      'log-file': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const opts: FakeModelOptions = {};
  if (values.host !== undefined) opts.host = values.host;
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) throw new Error(`invalid --port: ${values.port}`);
    opts.port = port;
  }
  if (values['mode-file'] !== undefined) opts.modeFile = values['mode-file'];
  if (values['log-file'] !== undefined) opts.logFile = values['log-file'];
  return opts;
}

let opts: FakeModelOptions;
try {
  opts = parseOptions();
} catch (err) {
  process.stderr.write(`fake-model: ${(err as Error).message.split('\n')[0]}\n`);
  process.exit(2);
}

try {
  const model = await startFakeModel(opts);
  process.stdout.write(`fake-model listening on ${model.url.replace(/\/v1$/, '')}\n`);
  const stop = () => {
    model.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`fake-model: close failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (err) {
  process.stderr.write(`fake-model: cannot listen: ${(err as Error).message}\n`);
  process.exit(1);
}
