// `npm run docker:prep`: everything the Docker tests need before they start, each step
// timed: the packages (apt-get), the engine (dockerd, when none answers), the base
// image (debootstrap, cached), the workspace image (built once per change of its
// build context). Safe to run in the background while the main suite runs; the
// Docker tests then find it all in place. A dockerd it started is stopped at the
// end unless --keep-dockerd (the images stay on disk either way).
import { ensureEngine, ensurePackages } from './engine.js';
import { ensureBaseImage, ensureImage } from './image.js';

async function step<T>(what: string, fn: () => Promise<T>, say: (v: T) => string): Promise<T> {
  const started = Date.now();
  const v = await fn();
  process.stdout.write(`docker:prep ${what.padEnd(16)} ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${say(v)}\n`);
  return v;
}

const keep = process.argv.includes('--keep-dockerd');
const started = Date.now();
await step('packages', ensurePackages, (v) => (v.length ? `installed ${v.join(', ')}` : 'already installed'));
const engine = await step('engine', ensureEngine, (e) => (e.startedPid === null ? 'already running' : `started dockerd pid ${e.startedPid}, log ${e.logPath}`));
// Stopped from outside (CI's clean-up, Ctrl-C): the dockerd started here goes too.
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    process.stdout.write(`docker:prep stopped by ${sig}\n`);
    void (keep ? Promise.resolve() : engine.stop()).finally(() => process.exit(sig === 'SIGTERM' ? 143 : 130));
  });
}
try {
  await step('base image', ensureBaseImage, (v) => v);
  await step('workspace image', ensureImage, (v) => `${v.tag} ${v.built ? 'built' : 'already built'}`);
} finally {
  if (!keep) await engine.stop();
  else if (engine.startedPid !== null) process.stdout.write(`docker:prep left dockerd pid ${engine.startedPid} running (--keep-dockerd)\n`);
}
process.stdout.write(`docker:prep done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
