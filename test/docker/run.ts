// `npm run test:docker`: the Docker tests, one file at a time (each drives real
// containers and opencode servers; the machine has two cores). The engine, the base
// image and the workspace image are made ready once before the first file, timed as
// docker:prep does; a dockerd started here is stopped at the end, whatever happened.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureEngine } from './engine.js';
import { ensureBaseImage, ensureImage } from './image.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const files = process.argv.slice(2).length > 0
  ? process.argv.slice(2)
  : fs.readdirSync(here).filter((f) => f.endsWith('.dtest.js')).sort().map((f) => path.relative(process.cwd(), path.join(here, f)));

const t0 = Date.now();
const engine = await ensureEngine();
let code = 1;
try {
  await ensureBaseImage();
  const image = await ensureImage();
  process.stdout.write(`test:docker: engine ${engine.startedPid === null ? 'already running' : `started (pid ${engine.startedPid})`}, image ${image.tag}${image.built ? ' built' : ''}, ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  const tap = spawn('npx', ['tap', '--jobs', '1', '--timeout', '900', ...files], { stdio: 'inherit' });
  const forward = (sig: NodeJS.Signals) => () => { tap.kill(sig); };
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  code = await new Promise<number>((resolve) => tap.on('close', (c) => resolve(c ?? 1)));
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);
} finally {
  await engine.stop();
}
process.exitCode = code;
