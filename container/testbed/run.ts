// Process helpers for the test bed: every call has a deadline, and a failure says
// which command failed with the tail of its stderr.
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
export interface RunOptions { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number }

export class CommandError extends Error {
  readonly result: RunResult;
  constructor(argv: readonly string[], result: RunResult) {
    const why = result.signal ? `killed by ${result.signal}` : `exit ${result.code}`;
    const tail = result.stderr.trim().split('\n').slice(-3).join(' | ');
    super(`${argv.join(' ')}: ${why}${tail ? `: ${tail}` : ''}`);
    this.name = 'CommandError';
    this.result = result;
  }
}

function spawnOptions(o: RunOptions): SpawnOptions {
  const s: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'] };
  if (o.env) s.env = o.env;
  if (o.cwd) s.cwd = o.cwd;
  if (o.uid !== undefined) s.uid = o.uid;
  if (o.gid !== undefined) s.gid = o.gid;
  return s;
}

/** Runs a command to completion (or kills it at the deadline). Never rejects for a non-zero exit. */
export function run(argv: readonly string[], o: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('run: empty argv');
  return new Promise((resolve) => {
    const child = spawn(cmd, args, spawnOptions(o));
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => {
      stderr += `\n[testbed] deadline of ${o.timeoutMs ?? 30_000} ms passed, killed`;
      child.kill('SIGKILL');
    }, o.timeoutMs ?? 30_000);
    child.on('error', (err) => { stderr += String(err); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(o.input ?? '');
  });
}

export async function runOk(argv: readonly string[], o: RunOptions = {}): Promise<RunResult> {
  const r = await run(argv, o);
  if (r.code !== 0) throw new CommandError(argv, r);
  return r;
}

/** Synchronous twin, for teardown from a process 'exit' handler where nothing async runs. */
export function runSync(argv: readonly string[], o: RunOptions = {}): RunResult {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('runSync: empty argv');
  const r = spawnSync(cmd, args, {
    encoding: 'utf8', timeout: o.timeoutMs ?? 30_000, input: o.input ?? '',
    ...(o.env ? { env: o.env } : {}), ...(o.cwd ? { cwd: o.cwd } : {}),
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** Blocks the thread; only for the synchronous teardown path. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
