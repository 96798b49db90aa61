// What every Docker test file starts with: an engine (the running one, or a dockerd
// started for this file and stopped at its end), the workspace image (built when
// container/ changed), and at the end the check that none of this file's containers
// is left behind. `npm run test:docker` runs the files one at a time.
import { ensureEngine, type Engine } from './engine.js';
import { ensureBaseImage, ensureImage } from './image.js';
import { leftContainers } from './container.js';

type Tap = typeof import('tap').default;

export interface DockerFixture { image: string; engine: Engine }

export async function dockerFixture(t: { teardown(fn: () => unknown): void }): Promise<DockerFixture> {
  const engine = await ensureEngine();
  t.teardown(() => engine.stop());
  await ensureBaseImage();
  const { tag } = await ensureImage();
  return { image: tag, engine };
}

/** The file's last test: every container it started is gone. */
export function expectNoContainersLeft(t: Tap): void {
  void t.test('no container of this test file is left', async (t) => {
    t.same(await leftContainers(), []);
  });
}
