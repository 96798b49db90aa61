// Workspace runtimes and config files for test-bed workspaces, closed by their test.
import fs from 'node:fs';
import type { Test } from 'tap';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { WorkspaceConfig } from '../../src/config/schema.js';
import { WorkspaceRuntime } from '../../src/broker/workspace.js';
import { run, waitFor, type Workspace } from '../../container/testbed/index.js';
import { REDACT_PATHS, type Logger } from '../../src/log.js';
import { opencodeDb, sqlSessionId } from './opencode-db.js';

interface Teardown { teardown(fn: () => unknown): void }

export function workspaceConfig(ws: Workspace, o: Partial<Omit<WorkspaceConfig, 'opencode'>> & { opencode?: Partial<WorkspaceConfig['opencode']> } = {}): WorkspaceConfig {
  return {
    name: ws.name, host: ws.host, port: ws.port, user: ws.user, privateKeyPath: ws.privateKeyPath,
    hostKeyFingerprints: [ws.hostKeyFingerprint], importFrom: [], transport: { kind: 'tcp' },
    keepalive: { intervalMs: 1000, timeoutMs: 1800 }, ...o,
    opencode: { port: 4096, command: 'opencode', idleTimeoutMs: 600_000, startTimeoutMs: 60_000, ...o.opencode },
  };
}

/** A logger whose every line is kept, to check what warren logs (and never logs). */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { logger: pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink), lines };
}

export function runtimeFor(t: Teardown, ws: Workspace, o: Parameters<typeof workspaceConfig>[1] = {}, logger?: Logger): WorkspaceRuntime {
  const rt = new WorkspaceRuntime(workspaceConfig(ws, o), logger ? { logger } : {});
  t.teardown(() => rt.close({ stopServer: true }));
  rt.start();
  return rt;
}

/**
 * One runtime for several tests of a file, made on first use: its link and its warm
 * opencode server carry over, so each test pays for what it is about rather than for
 * a cold start and a first prompt (several seconds of CPU here, far more on a loaded
 * machine). For tests that are not about the server's life. `close()` stops the
 * server; the file's last test calls it before checking that nothing is left.
 */
export function sharedRuntime(t: Teardown, ws: Workspace, o: Parameters<typeof workspaceConfig>[1] = {}, logger?: Logger): { get(): WorkspaceRuntime; close(): Promise<void> } {
  let rt: WorkspaceRuntime | undefined;
  const close = async () => {
    const open = rt;
    rt = undefined;
    await open?.close({ stopServer: true });
  };
  t.teardown(close);
  return {
    get: () => {
      if (!rt) {
        rt = new WorkspaceRuntime(workspaceConfig(ws, o), logger ? { logger } : {});
        rt.start();
      }
      return rt;
    },
    close,
  };
}

/** A warren config file naming the workspaces, as a user would write it. */
export function configFile(t: Teardown, wss: Workspace[], extra: Record<string, unknown> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-config-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.json');
  const workspaces = Object.fromEntries(wss.map((ws) => [ws.name, {
    host: ws.host, port: ws.port, user: ws.user, privateKeyPath: ws.privateKeyPath, hostKeyFingerprint: ws.hostKeyFingerprint, ...(extra[ws.name] as object ?? {}),
  }]));
  fs.writeFileSync(file, JSON.stringify({ workspaces }, null, 2));
  return file;
}

/**
 * The session's messages as (role, text) pairs, in order, read inside the workspace
 * from opencode's own database: what `opencode export` shows, without its 3 s of CPU
 * a call (the suite reads dozens of histories).
 */
export async function historyOf(ws: Workspace, id: string): Promise<Array<{ role: string; text: string; id: string }>> {
  const rows = await opencodeDb<{ id: string; role: string; type: string | null; text: string | null }>(ws, `
    SELECT m.id AS id, json_extract(m.data, '$.role') AS role, json_extract(p.data, '$.type') AS type, json_extract(p.data, '$.text') AS text
    FROM message m LEFT JOIN part p ON p.message_id = m.id WHERE m.session_id = ${sqlSessionId(id)} ORDER BY m.id, p.id`);
  const out: Array<{ role: string; text: string; id: string }> = [];
  for (const row of rows) {
    if (out.at(-1)?.id !== row.id) out.push({ role: row.role, id: row.id, text: '' });
    if (row.type === 'text') out.at(-1)!.text += row.text ?? '';
  }
  return out;
}

/**
 * Runs `opencode run` as the workspace user in a directory, as the interactive CLI does;
 * returns the new session id. The id comes from the run's own JSON events (every one
 * names its session), not from a second `opencode session list`: each opencode start
 * costs a second or more of CPU here, and the suite makes a dozen of these.
 */
export async function cliSession(ws: Workspace, dir: string, prompt: string, env: Record<string, string> = {}): Promise<string> {
  const r = await ws.runAsUser(['sh', '-c', 'mkdir -p "$1" && cd "$1" && opencode run --format json "$2"', 'cli', dir, prompt], { timeoutMs: 90_000, env });
  if (r.code !== 0) throw new Error(`opencode run failed: ${r.stderr.slice(-300)}`);
  const ids = new Set(r.stdout.split('\n').flatMap((line) => {
    try { return [(JSON.parse(line) as { sessionID?: unknown }).sessionID].filter((id): id is string => typeof id === 'string'); } catch { return []; }
  }));
  if (ids.size !== 1) throw new Error(`opencode run in ${dir} named ${ids.size} sessions in its events, not one: ${r.stdout.slice(-300)}`);
  return [...ids][0]!;
}

/** The last test of a file: no live process of the workspace user, then a clean teardown. */
export async function expectNothingLeft(t: Test, ws: Workspace, timeoutMs = 15_000): Promise<void> {
  await waitFor('no live process of the workspace user', async () => {
    const ps = await run(['ps', '-u', ws.user, '-o', 'stat=,args=']);
    return ps.stdout.split('\n').filter((l) => l.trim() && !l.trim().startsWith('Z')).length === 0;
  }, { timeoutMs });
  t.pass('none');
  await ws.close();
  t.same(ws.leftovers(), []);
}

/**
 * A project directory in the workspace whose opencode.json (project config, merged over
 * the user's) makes every bash call ask a person. opencode keeps "always" approvals per
 * directory, so each test takes its own.
 */
export async function askingDir(ws: Workspace, name: string): Promise<string> {
  const dir = `${ws.home}/projects/${name}`;
  const r = await ws.runAsUser(['sh', '-c', 'mkdir -p "$1" && printf %s "$2" > "$1/opencode.json"', 'x', dir, JSON.stringify({ permission: { bash: 'ask' } })]);
  if (r.code !== 0) throw new Error(`cannot make ${dir}: ${r.stderr}`);
  return dir;
}
