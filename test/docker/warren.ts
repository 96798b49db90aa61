// Driving warren against a Docker workspace as a user would: the `warren` command
// (every run with a deadline), a config file, and the daemon's gateway.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../container/testbed/index.js';
import { readEvents, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import type { TestContainer } from './container.js';

interface Teardown { teardown(fn: () => unknown): void }

export function warren(args: string[], timeoutMs = 240_000) {
  return run([process.execPath, 'dist/src/cli/main.js', ...args], { timeoutMs });
}

/** A config file with one workspace entry per container, pinned to what each presents now. */
export async function configFor(t: Teardown, entries: Record<string, Record<string, unknown>>): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-dcfg-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify({ workspaces: entries }, null, 2));
  return file;
}

export async function entryOf(c: TestContainer, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return c.entry({ hostKeyFingerprint: await c.hostKeyFingerprint(), ...extra });
}

/** A daemon for one container workspace named `name`. */
export async function daemonFor(t: Teardown, name: string, c: TestContainer): Promise<RunningDaemon> {
  const fp = await c.hostKeyFingerprint();
  const ws = { name, host: undefined as unknown as string, port: undefined as unknown as number, user: c.user, privateKeyPath: c.client.privateKeyPath, hostKeyFingerprint: fp };
  return startDaemon(t, [ws], { workspace: { transport: c.entry().transport } });
}

export type Event = { event: string; data: Record<string, unknown>; id: string | null };

/** Sends a message through the gateway and reads the whole event stream. */
export async function send(d: RunningDaemon, ws: string, session: string, text: string, onEvent?: (e: Event) => void): Promise<{ status: number; events: Event[]; body?: Record<string, unknown> }> {
  const res = await fetch(`${d.base}/v1/workspaces/${ws}/sessions/${session}/messages`, {
    method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ text }),
    signal: AbortSignal.timeout(240_000),
  });
  if (res.status !== 200) return { status: res.status, events: [], body: await res.json() as Record<string, unknown> };
  return { status: 200, events: await readEvents(res, onEvent) };
}

export async function createSession(d: RunningDaemon, ws: string): Promise<string> {
  const res = await fetch(`${d.base}/v1/workspaces/${ws}/sessions`, {
    method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: '{}', signal: AbortSignal.timeout(120_000),
  });
  if (res.status !== 200 && res.status !== 201) throw new Error(`create session: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** The workspace's tunnel state as the gateway reports it. */
export async function tunnelState(d: RunningDaemon, ws: string): Promise<string> {
  return (await tunnelOf(d, ws))?.state ?? 'missing';
}

/** The workspace's tunnel as the daemon's status has it. */
export async function tunnelOf(d: RunningDaemon, ws: string): Promise<{ state: string; lastError: string | null } | undefined> {
  const r = await fetch(`${d.base}/v1/workspaces`, { headers: d.headers(), signal: AbortSignal.timeout(10_000) });
  const body = await r.json() as { workspaces: Array<{ name: string; tunnel: { state: string; lastError: string | null } }> };
  return body.workspaces.find((w) => w.name === ws)?.tunnel;
}

/** `opencode run` in the container, as a person at its CLI would; returns the new session's id. */
export async function cliSessionIn(c: TestContainer, dir: string, prompt: string): Promise<string> {
  const r = await c.exec(['sh', '-c', 'mkdir -p "$1" && cd "$1" && opencode run --format json "$2"', 'cli', dir, prompt], { timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`opencode run failed: ${r.stderr.slice(-400)}`);
  const ids = new Set(r.stdout.split('\n').flatMap((line) => {
    try { return [(JSON.parse(line) as { sessionID?: unknown }).sessionID].filter((id): id is string => typeof id === 'string'); } catch { return []; }
  }));
  if (ids.size !== 1) throw new Error(`opencode run named ${ids.size} sessions: ${r.stdout.slice(-300)}`);
  return [...ids][0]!;
}

/** The session's messages, read with the CLI inside the container. */
export async function historyIn(c: TestContainer, id: string): Promise<Array<{ role: string; text: string }>> {
  const r = await c.exec(['opencode', 'export', id], { timeoutMs: 120_000 });
  const data = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { messages: Array<{ info: { role: string }; parts: Array<{ type: string; text?: string }> }> };
  return data.messages.map((m) => ({ role: m.info.role, text: m.parts.filter((p) => p.type === 'text').map((p) => p.text ?? '').join('') }));
}
