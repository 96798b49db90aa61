// The Docker client, as `warren add --docker` runs it: argv only (no shell on this
// host), a deadline on every call, a bounded output, and its failures turned into
// warren errors: an unknown container is the operator's to fix (exit 2), an engine
// that does not answer is a runtime failure. Nothing secret ever goes through here:
// the only thing sent into a container is a public key, on stdin.
import { spawn } from 'node:child_process';
import { DockerContainerError, DockerError } from '../errors.js';
import { firstLine } from '../text.js';

/** A call to the Docker engine takes seconds at most; a stuck one must not hang `warren add`. */
const CALL_TIMEOUT_MS = 30_000;
const MAX_OUTPUT = 1 << 20;

/** Docker's own rule for container names (and ids are hex): nothing that argv could take for an option. */
const CONTAINER_REF = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function isContainerRef(s: string): boolean {
  return CONTAINER_REF.test(s);
}

export interface DockerResult { code: number | null; stdout: string; stderr: string }

export class DockerClient {
  constructor(readonly bin: string, private readonly timeoutMs = CALL_TIMEOUT_MS) {}

  /** Runs `docker ARGS`; resolves with its exit code and output whatever the code, rejects only when it cannot run or times out. */
  run(args: readonly string[], input?: string): Promise<DockerResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const take = (into: 'out' | 'err') => (d: Buffer) => {
        if (into === 'out' && stdout.length < MAX_OUTPUT) stdout += d.toString('utf8');
        if (into === 'err' && stderr.length < MAX_OUTPUT) stderr += d.toString('utf8');
      };
      child.stdout.on('data', take('out'));
      child.stderr.on('data', take('err'));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new DockerError(`${this.bin} ${args[0]} did not answer within ${this.timeoutMs / 1000} s: is the Docker engine running?`));
      }, this.timeoutMs);
      child.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new DockerError(err.code === 'ENOENT'
          ? `cannot run ${this.bin}: not found; install the Docker client or pass --docker-bin`
          : `cannot run ${this.bin}: ${err.message}`, err));
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.on('error', () => {});
      child.stdin.end(input ?? '');
    });
  }

  /** Like run, but a non-zero exit is a DockerError saying what failed. */
  async ok(args: readonly string[], what: string, input?: string): Promise<string> {
    const r = await this.run(args, input);
    if (r.code !== 0) throw new DockerError(`${what} failed: ${firstLine(r.stderr.trim()) || `exit ${r.code}`}`);
    return r.stdout;
  }
}

export interface ContainerInfo {
  /** Its name, without Docker's leading "/". */
  name: string;
  running: boolean;
  /** "exited", "paused", ... as Docker says. */
  status: string;
  env: Map<string, string>;
  /** Where volumes and bind mounts land inside it. */
  mountPoints: string[];
}

interface InspectJson {
  Name?: string;
  State?: { Running?: boolean; Status?: string };
  Config?: { Env?: string[] | null };
  Mounts?: Array<{ Destination?: string }> | null;
}

export async function inspectContainer(docker: DockerClient, ref: string): Promise<ContainerInfo> {
  const r = await docker.run(['container', 'inspect', '--format', '{{json .}}', '--', ref]);
  if (r.code !== 0) {
    if (/no such (container|object)/i.test(r.stderr)) throw new DockerContainerError(`no container ${JSON.stringify(ref)}: check the name with docker ps -a`);
    throw new DockerError(`${docker.bin} container inspect failed: ${firstLine(r.stderr.trim()) || `exit ${r.code}`}`);
  }
  let j: InspectJson;
  try {
    j = JSON.parse(r.stdout) as InspectJson;
  } catch {
    throw new DockerError(`${docker.bin} container inspect answered something that is not JSON`);
  }
  const env = new Map<string, string>();
  for (const kv of j.Config?.Env ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return {
    name: (j.Name ?? ref).replace(/^\//, ''),
    running: j.State?.Running === true,
    status: j.State?.Status ?? 'unknown',
    env,
    mountPoints: (j.Mounts ?? []).map((m) => m.Destination ?? '').filter((d) => d !== ''),
  };
}
