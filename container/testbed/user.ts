// The unprivileged workspace user. useradd/userdel take a lock on /etc/passwd, and
// parallel test processes contend for it, so both are retried until a deadline.
import { run, runSync, sleepSync, type RunResult } from './run.js';
import { setTimeout as delay } from 'node:timers/promises';

const LOCKED = /lock|try again/i;

export async function createUser(user: string, home: string): Promise<{ uid: number; gid: number }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    // Password field '*': no password works, but the account is not "locked", which
    // sshd refuses with UsePAM off even for key logins.
    const r = await run(['useradd', '--no-create-home', '--home-dir', home, '--shell', '/bin/bash', '--user-group', '--password', '*', user]);
    if (r.code === 0) break;
    if (r.code === 9) { // exists: a leftover of a crash that was not swept yet
      await deleteUserAsync(user);
      continue;
    }
    if (!LOCKED.test(r.stderr) || Date.now() > deadline) throw new Error(`testbed: useradd ${user} failed: ${r.stderr.trim()}`);
    await delay(20 + Math.random() * 50);
  }
  const id = await run(['id', '-u', user]);
  const gid = await run(['id', '-g', user]);
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

async function deleteUserAsync(user: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r: RunResult = await run(['userdel', user]);
    if (r.code === 0 || r.code === 6) return; // 6: no such user
    if (Date.now() > deadline) throw new Error(`testbed: userdel ${user} failed: ${r.stderr.trim()}`);
    await delay(20 + Math.random() * 50);
  }
}

export function userExists(user: string): boolean {
  return runSync(['id', '-u', user]).code === 0;
}

export function deleteUserSync(user: string): void {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = runSync(['userdel', user]);
    if (r.code === 0 || r.code === 6) return;
    if (Date.now() > deadline) throw new Error(`testbed: userdel ${user} failed: ${r.stderr.trim()}`);
    sleepSync(20 + Math.random() * 50);
  }
}
