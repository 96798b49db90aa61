// Links to test-bed workspaces, closed by the test that made them.
import type { Test } from 'tap';
import { Link, type LinkOptions, type StateChange } from '../../src/ssh/link.js';
import type { Workspace } from '../../container/testbed/index.js';

export function linkTo(t: Test, ws: Workspace, o: Partial<LinkOptions> = {}): Link {
  const link = new Link({
    name: ws.name, user: ws.user, transport: { kind: 'tcp', host: ws.host, port: ws.port },
    privateKeyPath: ws.privateKeyPath, hostKeyFingerprints: [ws.hostKeyFingerprint], ...o,
  });
  t.teardown(() => link.close());
  return link;
}

/** Records every state change with its time, for assertions on order and timing. */
export function recordStates(link: Link): StateChange[] {
  const seen: StateChange[] = [];
  link.on('state', (c: StateChange) => seen.push(c));
  return seen;
}

export function nextState(link: Link, to: string, timeoutMs: number): Promise<StateChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      link.off('state', on);
      reject(new Error(`link did not become ${to} within ${timeoutMs} ms (it is ${link.state})`));
    }, timeoutMs);
    const on = (c: StateChange) => {
      if (c.to !== to) return;
      clearTimeout(timer);
      link.off('state', on);
      resolve(c);
    };
    link.on('state', on);
  });
}
