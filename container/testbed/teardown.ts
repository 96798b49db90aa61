// Tearing a workspace down, synchronously so the same code serves close(), the
// process 'exit' hook and the sweep of a crashed run's leftovers. Everything is
// derived from the slot number and its owner file.
import fs from 'node:fs';
import { listSlots, pidAlive, readOwner, slotNames } from './slots.js';
import { runSync, sleepSync } from './run.js';
import { deleteUserSync, userExists } from './user.js';

function netnsExists(ns: string): boolean {
  return fs.existsSync(`/var/run/netns/${ns}`) || fs.existsSync(`/run/netns/${ns}`);
}

function linkExists(dev: string): boolean {
  return fs.existsSync(`/sys/class/net/${dev}`);
}

function netnsPids(ns: string): number[] {
  if (!netnsExists(ns)) return [];
  return runSync(['ip', 'netns', 'pids', ns]).stdout.split(/\s+/).filter(Boolean).map(Number);
}

function userPids(user: string): number[] {
  const r = runSync(['pgrep', '-u', user]);
  return r.code === 0 ? r.stdout.split(/\s+/).filter(Boolean).map(Number) : [];
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  for (const target of [-pid, pid]) {
    try { process.kill(target, 'SIGKILL'); } catch { /* already gone */ }
  }
}

function waitGone(what: () => number[], ms: number): number[] {
  const deadline = Date.now() + ms;
  let left = what();
  while (left.length > 0 && Date.now() < deadline) {
    for (const pid of left) killGroup(pid);
    sleepSync(10);
    left = what();
  }
  return left;
}

/** Removes every trace of a slot. Returns what could not be removed (empty on success). */
export function teardownSlotSync(slot: number): string[] {
  const n = slotNames(slot);
  const owner = readOwner(n.dir);
  const problems: string[] = [];
  // Namespace and veth names are per slot, but a loopback slot (another root, not
  // root) never made them: those names may belong to someone else's workspace.
  const netnsMode = owner ? owner.mode === 'netns' : process.getuid?.() === 0;
  killGroup(owner?.sshdPid);
  killGroup(owner?.modelPid);
  for (const pid of owner?.extraPids ?? []) killGroup(pid);
  const ownsUser = owner?.createdUser ?? (process.getuid?.() === 0 && userExists(n.user));
  if (ownsUser && userExists(n.user)) runSync(['pkill', '-KILL', '-u', n.user]);
  if (netnsMode) {
    const leftNs = waitGone(() => netnsPids(n.netns), 5000);
    if (leftNs.length) problems.push(`processes still in ${n.netns}: ${leftNs.join(' ')}`);
  }
  if (ownsUser && userExists(n.user)) {
    const leftUser = waitGone(() => userPids(n.user), 5000);
    if (leftUser.length) problems.push(`processes of ${n.user} still running: ${leftUser.join(' ')}`);
  }
  if (netnsMode && netnsExists(n.netns)) {
    const r = runSync(['ip', 'netns', 'del', n.netns]);
    if (r.code !== 0) problems.push(`ip netns del ${n.netns}: ${r.stderr.trim()}`);
  }
  if (netnsMode && linkExists(n.vethHost)) runSync(['ip', 'link', 'del', n.vethHost]);
  if (ownsUser && userExists(n.user)) {
    try { deleteUserSync(n.user); } catch (err) { problems.push((err as Error).message); }
  }
  fs.rmSync(n.dir, { recursive: true, force: true, maxRetries: 3 });
  return problems;
}

export interface LeftoverHints {
  mode: 'netns' | 'loopback'; createdUser: boolean; sshdPid?: number | undefined; modelPid?: number | undefined; user: string;
  /** The pid that owned the slot; when given, a slot another process has claimed since is not counted. */
  ownerPid?: number | undefined;
}

/** Lists what of a slot still exists; used by tests to assert a clean teardown. */
export function leftoversOf(slot: number, h: LeftoverHints): string[] {
  const n = slotNames(slot);
  const out: string[] = [];
  for (const [what, pid] of [['sshd', h.sshdPid], ['fake model', h.modelPid]] as const) {
    if (pid && pidAlive(pid) && !isZombie(pid)) out.push(`${what} process ${pid}`);
  }
  // Teardown removes the directory last, so a directory owned by another pid is a
  // new claim made after ours was gone: its namespace and user are not ours.
  const owner = h.ownerPid !== undefined && fs.existsSync(n.dir) ? readOwner(n.dir) : undefined;
  const reclaimed = h.ownerPid !== undefined && fs.existsSync(n.dir) && owner?.pid !== h.ownerPid;
  if (reclaimed) return out;
  if (h.mode === 'netns' && netnsExists(n.netns)) out.push(`network namespace ${n.netns}`);
  if (h.mode === 'netns' && linkExists(n.vethHost)) out.push(`veth ${n.vethHost}`);
  if (fs.existsSync(n.dir)) out.push(`directory ${n.dir}`);
  if (h.createdUser) {
    if (userExists(n.user)) out.push(`user ${n.user}`);
    const pids = userPids(n.user);
    if (pids.length) out.push(`processes of ${n.user}: ${pids.join(' ')}`);
  }
  return out;
}

function isZombie(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Tears down slots whose owning process is gone (a crashed or killed run). */
export function sweepStale(o: { includePersistent?: boolean } = {}): number[] {
  const swept: number[] = [];
  for (const slot of listSlots()) {
    const dir = slotNames(slot).dir;
    const owner = readOwner(dir);
    if (owner?.persistent && !o.includePersistent) continue;
    if (owner && !owner.persistent && pidAlive(owner.pid)) continue;
    // A slot is claimed by mkdir and its owner file written right after; give a
    // claim being made this instant the benefit of the doubt.
    if (!owner) {
      try {
        if (Date.now() - fs.statSync(dir).mtimeMs < 60_000) continue;
      } catch { continue; }
    }
    teardownSlotSync(slot);
    swept.push(slot);
  }
  return swept;
}
