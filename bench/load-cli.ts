// Runs one load measurement and prints it as JSON: how the "direct" path is
// measured from inside a workspace's namespace, with the same client code.
import { Agent } from 'undici';
import { runBulk, runLoad, runSse } from './load.js';

const [kind, url, a, b] = process.argv.slice(2);
const dispatcher = new Agent({ keepAliveTimeout: 30_000 });
try {
  if (kind === 'load') {
    process.stdout.write(`${JSON.stringify(await runLoad(url!, { dispatcher, concurrency: Number(a), durationMs: Number(b) }))}\n`);
  } else if (kind === 'bulk') {
    process.stdout.write(`${JSON.stringify({ mbps: await runBulk(url!, { dispatcher, bytes: Number(a) }) })}\n`);
  } else if (kind === 'sse') {
    process.stdout.write(`${JSON.stringify({ eps: await runSse(url!, { dispatcher, count: Number(a) }) })}\n`);
  } else {
    process.stderr.write('usage: load-cli load URL CONCURRENCY DURATION_MS | bulk URL BYTES | sse URL COUNT\n');
    process.exitCode = 2;
  }
} finally {
  await dispatcher.close();
}
