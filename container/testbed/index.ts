// The workspace test bed: stands up isolated workspaces (see workspace.ts) for
// tests, the demo and benchmarks, and tears them down without a trace.
export { createWorkspace, freePort, SSHD_CONFIG, type Workspace, type WorkspaceOptions, type FakeModelMode } from './workspace.js';
export { sweepStale, leftoversOf } from './teardown.js';
export { slotNames } from './slots.js';
export { fingerprintOfPublicKey } from './keys.js';
export { waitFor } from './wait.js';
export { run, runOk, type RunResult } from './run.js';
export { opencodeVersion, opencodeBinary } from './opencode-bin.js';
export { testbedRoot } from './slots.js';

import { createWorkspace, type Workspace, type WorkspaceOptions } from './workspace.js';

/** Stands up n workspaces at once; if any fails, the others are torn down too. */
export async function createWorkspaces(n: number, opts: Omit<WorkspaceOptions, 'name'> & { namePrefix?: string } = {}): Promise<Workspace[]> {
  const results = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => createWorkspace({ ...opts, name: `${opts.namePrefix ?? 'ws'}-${i + 1}` })),
  );
  const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(ok.map((w) => w.close()));
    throw failed.reason;
  }
  return ok;
}
export { createJumpHost, type JumpHost } from './jump-host.js';
