// A slot is one workspace's claim on names and addresses. Slots are shared by every
// process on the machine (tap runs test files in parallel), so claiming one is an
// atomic mkdir, and the directory records the owner's pid so that a crashed owner's
// leftovers can be found and swept.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const MAX_SLOTS = 4096;

export function testbedRoot(): string {
  // As root, slots name machine-wide things (namespaces, users, addresses), so there
  // is exactly one registry. Without root a workspace creates none of those, and
  // sshd's StrictModes wants its files below the user's own home, not /tmp.
  if (process.getuid?.() === 0) return '/tmp/warren-testbed';
  return process.env.WARREN_TESTBED_ROOT ?? path.join(os.homedir(), '.cache', 'warren-testbed');
}

export type Mode = 'netns' | 'loopback';

/** Names and addresses are derived from the slot number alone, so teardown needs nothing else. */
export interface SlotNames {
  slot: number;
  dir: string;
  netns: string;
  vethHost: string;
  vethNs: string;
  user: string;
  hostAddr: string;
  nsAddr: string;
}

// 198.18.0.0/15 is reserved for network benchmark testing (RFC 2544): it is never
// routed anywhere, so it cannot collide with the machine's own networks. Each
// slot gets a /30: .1 on the host side, .2 inside the namespace.
export function slotNames(slot: number): SlotNames {
  const base = (198 << 24 >>> 0) + (18 << 16) + slot * 4;
  const ip = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  return {
    slot,
    dir: path.join(testbedRoot(), 'ws', String(slot)),
    netns: `wtb-${slot}`,
    vethHost: `wtb${slot}h`,
    vethNs: `wtb${slot}n`,
    user: `wtb${slot}`,
    hostAddr: ip(base + 1),
    nsAddr: ip(base + 2),
  };
}

export interface Owner {
  pid: number; mode: Mode; name: string; createdUser: boolean; sshdPid?: number; modelPid?: number;
  /** Other processes started in the workspace (HTTP targets). */
  extraPids?: number[];
  /** Outlives its creator (testbed CLI `up`): only `down` removes it. */
  persistent?: boolean;
}

export function ownerFile(dir: string): string { return path.join(dir, 'owner.json'); }

export function readOwner(dir: string): Owner | undefined {
  try {
    return JSON.parse(fs.readFileSync(ownerFile(dir), 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

export function writeOwner(dir: string, owner: Owner): void {
  const tmp = `${ownerFile(dir)}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(owner));
  fs.renameSync(tmp, ownerFile(dir));
}

/**
 * Claims a free slot. The directory is the lock. The search starts at a random
 * slot rather than the lowest: with test files running in parallel, a slot freed
 * a moment ago would otherwise be taken again at once, and a check of what the
 * old owner left would see the new owner's user and directory.
 */
export function claimSlot(name: string, mode: Mode, only?: number): SlotNames {
  if (only !== undefined && !(Number.isInteger(only) && only >= 0 && only < MAX_SLOTS)) {
    throw new Error(`testbed: slot ${only} is not a whole number from 0 to ${MAX_SLOTS - 1}`);
  }
  const wsRoot = path.join(testbedRoot(), 'ws');
  fs.mkdirSync(wsRoot, { recursive: true, mode: 0o755 });
  if (process.getuid?.() === 0) {
    // Workspace users need to pass through to their homes.
    fs.chmodSync(testbedRoot(), 0o755);
    fs.chmodSync(wsRoot, 0o755);
  }
  const start = only ?? Math.floor(Math.random() * MAX_SLOTS);
  for (let i = 0; i < (only === undefined ? MAX_SLOTS : 1); i++) {
    const names = slotNames((start + i) % MAX_SLOTS);
    try {
      fs.mkdirSync(names.dir, { mode: 0o755 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    fs.chmodSync(names.dir, 0o755);
    writeOwner(names.dir, { pid: process.pid, mode, name, createdUser: false });
    return names;
  }
  if (only !== undefined) throw new Error(`testbed: slot ${only} is taken under ${wsRoot}`);
  throw new Error(`testbed: all ${MAX_SLOTS} slots are taken under ${wsRoot}; run: node dist/container/testbed/cli.js sweep`);
}

export function listSlots(): number[] {
  try {
    return fs.readdirSync(path.join(testbedRoot(), 'ws'))
      .filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
  } catch {
    return [];
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
