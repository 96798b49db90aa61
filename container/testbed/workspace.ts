// One test-bed workspace: what a workspace container is in production, made of
// plain Linux parts. In "netns" mode (root): a network namespace joined to the host
// by a veth pair, a real sshd (root, in the namespace, on the veth address only),
// an unprivileged user with its own HOME, the pinned opencode on its PATH, and the
// fake model on the namespace's loopback: from the host only sshd is reachable.
// In "loopback" mode (not root, or no namespaces): sshd runs as the workspace user
// on a 127.0.0.1 port and the fake model on another; isolation is weaker.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { claimSlot, testbedRoot, readOwner, writeOwner as writeOwnerFile, slotNames, type Mode, type Owner, type SlotNames } from './slots.js';
import { generateKey, publicKeyLine, fingerprintOfPublicKey } from './keys.js';
import { opencodeBinary } from './opencode-bin.js';
import { createUser } from './user.js';
import { run, runOk, type RunOptions, type RunResult } from './run.js';
import { waitFor } from './wait.js';
import { teardownSlotSync, leftoversOf } from './teardown.js';
import { quoteArg } from '../../src/ssh/quote.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..', '..');
export const SSHD_CONFIG = path.join(repoRoot, 'container', 'sshd_config');
const FAKE_MODEL_MAIN = path.join(repoRoot, 'dist', 'container', 'fake-model', 'main.js');
const SSHD = '/usr/sbin/sshd';
const MODEL_PORT_IN_NS = 11434;
const TARGET_MAIN = path.join(repoRoot, 'dist', 'container', 'testbed', 'target-main.js');
const TARGET_PORT_IN_NS = 8080;
const REAPER = path.join(repoRoot, 'dist', 'container', 'testbed', 'reaper.js');

export interface FakeModelMode { chunkDelayMs?: number; error?: { status: number; message: string }; hang?: boolean }

export interface WorkspaceOptions {
  /** Shown in logs and status; defaults to ws-<slot>. */
  name?: string;
  /** 'auto' (default; or env WARREN_TESTBED_MODE) picks netns when root and namespaces work. */
  mode?: 'auto' | Mode;
  /** Start the fake model (default true). Scale tests switch it off to stay cheap. */
  fakeModel?: boolean;
  /** Keep running after this process exits (the CLI's `up`); default false. */
  persistent?: boolean;
  /** Claim exactly this slot (tests of slot-number clashes); default: any free one. */
  slot?: number;
}

export interface Workspace {
  readonly name: string;
  readonly mode: Mode;
  /** True in netns mode: only sshd is reachable from the host. */
  readonly isolated: boolean;
  readonly slot: number;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly privateKeyPath: string;
  readonly hostKeyFingerprint: string;
  readonly hostPublicKey: string;
  readonly knownHostsPath: string;
  readonly netns: string | null;
  readonly modelPort: number | null;
  readonly opencodeBin: string;
  readonly dir: string;
  /** The environment the workspace user's commands get from sshd. */
  readonly userEnv: Readonly<Record<string, string>>;
  /** Runs argv as the workspace user inside the workspace, not through sshd. */
  runAsUser(argv: readonly string[], o?: RunOptions): Promise<RunResult>;
  /** Runs argv as root inside the workspace's namespace (or on the host in loopback mode). */
  runInside(argv: readonly string[], o?: RunOptions): Promise<RunResult>;
  /** argv for OpenSSH's client to log in as the workspace user and run a command. */
  sshArgv(remoteArgv?: readonly string[], extraOptions?: readonly string[]): string[];
  /** Switches the fake model's fault mode for every following request (null: normal). */
  setModelMode(mode: FakeModelMode | null): void;
  modelLogPath: string;
  /** SIGKILLs every sshd of the workspace (listener and per-connection), and waits until they are gone. */
  killSshd(): Promise<void>;
  /** Starts sshd again, same address, key and config, after killSshd(). */
  startSshd(): Promise<void>;
  /** SIGSTOPs every process of the workspace: a frozen container, TCP still acking. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /**
   * Starts a long-running command as the workspace user inside the workspace; killed with it.
   * `input` is written to its stdin, which is then closed (without it stdin is /dev/null).
   */
  spawnAsUser(argv: readonly string[], o?: { cwd?: string; input?: string }): ChildProcess;
  /** argv that runs this workspace's sshd in inetd mode (`sshd -i`): SSH over stdio, no port. */
  sshdInetdArgv(): string[];
  /** A second sshd on the workspace's own 127.0.0.1:port, reachable only through a forward (a jump target). */
  startLoopbackSshd(port: number): Promise<void>;
  /** Starts the HTTP test target (container/testbed/target-server.ts) inside the workspace. */
  startTarget(port?: number): Promise<{ port: number; stop(): Promise<void> }>;
  /** What is still there after close(): empty means a clean teardown. */
  leftovers(): string[];
  close(): Promise<void>;
}

const live = new Map<number, boolean>();
const persistentSlots = new Set<number>();
function writeOwner(dir: string, owner: Owner): void {
  const slot = Number(path.basename(dir));
  writeOwnerFile(dir, persistentSlots.has(slot) ? { ...owner, persistent: true } : owner);
}
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous: in 'exit' nothing async runs. Covers crashes and forgotten closes.
  const teardownAll = () => {
    for (const [slot, persistent] of live) if (!persistent) teardownSlotSync(slot);
    live.clear();
  };
  process.on('exit', teardownAll);
  // A signal skips 'exit' handlers (tap ends a test that ran out of time with
  // SIGTERM), and SIGKILL skips everything. A small detached reaper outlives this
  // process and sweeps its slots once it is gone, however it died.
  const reaper = spawn(process.execPath, [REAPER, String(process.pid)], { detached: true, stdio: 'ignore' });
  reaper.unref();
}

function resolveMode(requested: WorkspaceOptions['mode']): Mode {
  const want = requested && requested !== 'auto' ? requested : (process.env.WARREN_TESTBED_MODE as Mode | 'auto' | undefined);
  if (want === 'netns' || want === 'loopback') return want;
  if (process.getuid?.() !== 0) return 'loopback';
  return fs.existsSync('/var/run/netns') || canCreateNetns() ? 'netns' : 'loopback';
}

let netnsProbe: boolean | undefined;
function canCreateNetns(): boolean {
  if (netnsProbe === undefined) {
    netnsProbe = fs.existsSync('/sbin/ip') || fs.existsSync('/usr/sbin/ip') || fs.existsSync('/usr/bin/ip');
  }
  return netnsProbe;
}

let warnedWeak = false;
function warnWeakIsolation(forced: boolean): void {
  if (warnedWeak || forced) return;
  warnedWeak = true;
  process.stderr.write('warren testbed: not root or no network namespaces, so workspaces run sshd on a 127.0.0.1 port and their fake model is reachable from the host: isolation is weaker, and the isolation tests are skipped\n');
}

/** A TCP port free on 127.0.0.1 right now (callers retry if another takes it first). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '';
  }
}

/** Spawns a long-lived process in its own group, output to a log file, not tied to this process. */
function spawnDaemon(argv: readonly string[], logFile: string, o: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {}): number {
  const fd = fs.openSync(logFile, 'a', 0o644);
  try {
    const [cmd, ...args] = argv;
    const child = spawn(cmd!, args, {
      stdio: ['ignore', fd, fd], detached: true,
      ...(o.uid !== undefined ? { uid: o.uid, gid: o.gid } : {}),
      ...(o.env ? { env: o.env } : {}),
    });
    child.on('error', (err) => fs.appendFileSync(logFile, `spawn failed: ${err.message}\n`));
    child.unref();
    if (child.pid === undefined) throw new Error(`testbed: could not start ${cmd}: ${tail(logFile)}`);
    return child.pid;
  } finally {
    fs.closeSync(fd);
  }
}

function opencodeConfig(modelPort: number): string {
  return JSON.stringify({
    $schema: 'https://opencode.ai/config.json',
    provider: {
      fake: {
        npm: '@ai-sdk/openai-compatible',
        name: 'Fake model (warren testbed)',
        options: { baseURL: `http://127.0.0.1:${modelPort}/v1`, apiKey: 'testbed' },
        // Prices (US dollars per million tokens) so that opencode records a cost to add up;
        // a second model so that usage per model has two rows.
        models: {
          'fake-model': { name: 'Fake model', cost: { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 } },
          'fake-model-b': { name: 'Fake model B', cost: { input: 1, output: 2, cache_read: 0.1, cache_write: 1.25 } },
        },
      },
    },
    model: 'fake/fake-model',
    small_model: 'fake/fake-model',
    autoupdate: false,
    share: 'disabled',
  }, null, 2);
}

export async function createWorkspace(opts: WorkspaceOptions = {}): Promise<Workspace> {
  const mode = resolveMode(opts.mode);
  if (mode === 'loopback') warnWeakIsolation(opts.mode === 'loopback');
  // Paths go into sshd's SetEnv, which splits on white space.
  if (!/^[A-Za-z0-9._/-]+$/.test(testbedRoot())) {
    throw new Error(`testbed: the test bed root ${JSON.stringify(testbedRoot())} may hold only letters, digits and . _ / -; set WARREN_TESTBED_ROOT`);
  }
  installExitHook();
  const names = claimSlot(opts.name ?? '', mode, opts.slot);
  live.set(names.slot, opts.persistent ?? false);
  if (opts.persistent) persistentSlots.add(names.slot);
  try {
    return await build(names, mode, opts);
  } catch (err) {
    teardownSlotSync(names.slot);
    live.delete(names.slot);
    throw err;
  }
}

async function build(names: SlotNames, mode: Mode, opts: WorkspaceOptions): Promise<Workspace> {
  const name = opts.name ?? `ws-${names.slot}`;
  const { dir } = names;
  const isRoot = process.getuid?.() === 0;
  const home = path.join(dir, 'home');
  const privateDir = path.join(dir, 'private');
  fs.mkdirSync(privateDir, { mode: 0o700 });

  // The user: created (root), or ourselves (loopback without root).
  let user: string;
  let uid: number;
  let gid: number;
  const createdUser = isRoot;
  if (createdUser) {
    writeOwner(dir, { pid: process.pid, mode, name, createdUser: true });
    ({ uid, gid } = await createUser(names.user, home));
    user = names.user;
  } else {
    uid = process.getuid!();
    gid = process.getgid!();
    user = (await runOk(['id', '-un'])).stdout.trim();
  }

  // Keys: the host key belongs to whoever runs sshd; the client key stays private to us.
  const hostKeyDir = path.join(dir, mode === 'netns' ? 'private' : 'sshd');
  if (hostKeyDir !== privateDir) fs.mkdirSync(hostKeyDir, { mode: 0o700 });
  const hostKey = path.join(hostKeyDir, 'ssh_host_ed25519_key');
  const privateKeyPath = path.join(privateDir, 'id_ed25519');
  await Promise.all([generateKey(hostKey, `warren-testbed-${name}-host`), generateKey(privateKeyPath, `warren-testbed-${name}-client`)]);
  const hostPublicKey = publicKeyLine(`${hostKey}.pub`);
  const hostKeyFingerprint = fingerprintOfPublicKey(hostPublicKey);

  // HOME, as a fresh container's would be, with opencode on PATH and configured for the fake model.
  const opencodeBin = await opencodeBinary();
  const localBin = path.join(home, '.local', 'bin');
  fs.mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  fs.mkdirSync(localBin, { recursive: true });
  fs.mkdirSync(path.join(home, '.config', 'opencode'), { recursive: true });
  fs.mkdirSync(path.join(home, 'projects'), { recursive: true });
  fs.symlinkSync(opencodeBin, path.join(localBin, 'opencode'));
  fs.writeFileSync(path.join(home, '.ssh', 'authorized_keys'), `${publicKeyLine(`${privateKeyPath}.pub`)}\n`, { mode: 0o600 });
  const userEnv: Record<string, string> = {
    HOME: home,
    USER: user,
    LOGNAME: user,
    SHELL: '/bin/bash',
    PATH: `${localBin}:/usr/local/bin:/usr/bin:/bin`,
    OPENCODE_DISABLE_MODELS_FETCH: '1',
    OPENCODE_DISABLE_AUTOUPDATE: '1',
  };
  fs.writeFileSync(path.join(home, '.profile'), [
    '# written by the warren test bed: what a login shell in the workspace image sets',
    'export PATH="$HOME/.local/bin:$PATH"',
    'export OPENCODE_DISABLE_MODELS_FETCH=1',
    'export OPENCODE_DISABLE_AUTOUPDATE=1',
    '',
  ].join('\n'));

  // The fake model: inside the namespace on its loopback, or on a free host port.
  const modelLogPath = path.join(dir, 'model-requests.log');
  const modeFile = path.join(dir, 'model-mode.json');
  const modelOut = path.join(dir, 'model.out');
  let modelPort: number | null = null;
  let modelPid: number | undefined;
  if (mode === 'netns') await setUpNetwork(names);
  if (opts.fakeModel ?? true) {
    const modelArgv = [process.execPath, FAKE_MODEL_MAIN, '--host', '127.0.0.1', '--port', String(mode === 'netns' ? MODEL_PORT_IN_NS : 0),
      '--mode-file', modeFile, '--log-file', modelLogPath];
    modelPid = spawnDaemon(mode === 'netns' ? ['ip', 'netns', 'exec', names.netns, ...modelArgv] : modelArgv, modelOut);
    writeOwner(dir, { pid: process.pid, mode, name, createdUser, modelPid });
    const line = await waitFor('the fake model to listen', () => {
      const m = /fake-model listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(fs.existsSync(modelOut) ? fs.readFileSync(modelOut, 'utf8') : '');
      if (m) return m[1];
      if (!processAlive(modelPid!)) throw new Error(`fake model exited: ${tail(modelOut)}`);
      return undefined;
    }, { timeoutMs: 15_000 });
    modelPort = Number(line);
    fs.writeFileSync(path.join(home, '.config', 'opencode', 'opencode.json'), opencodeConfig(modelPort));
  }
  chownTree(home, uid, gid);
  fs.chmodSync(home, 0o700);

  // sshd: the shipped config; only locations are overridden.
  const sshdLog = path.join(dir, 'sshd.log');
  const setEnv = Object.entries(userEnv).filter(([k]) => !['USER', 'LOGNAME', 'SHELL'].includes(k)).map(([k, v]) => `${k}=${v}`).join(' ');
  let host: string;
  let port: number;
  // What teardown must find: kept in the owner file as it changes.
  const pids: { sshdPid?: number; modelPid?: number; extraPids: number[] } = { extraPids: [] };
  if (modelPid !== undefined) pids.modelPid = modelPid;
  const saveOwner = () => writeOwner(dir, { pid: process.pid, mode, name, createdUser, ...pids });
  if (mode === 'netns') {
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    host = names.nsAddr;
    port = 22;
  } else {
    if (createdUser) chownTree(hostKeyDir, uid, gid);
    fs.chmodSync(dir, 0o755);
    host = '127.0.0.1';
    port = 0;
  }
  const sshdArgv = (p: number) => mode === 'netns'
    ? ['ip', 'netns', 'exec', names.netns, SSHD, '-D', '-e', '-f', SSHD_CONFIG,
      '-o', `ListenAddress=${host}`, '-o', `Port=${p}`, '-o', `HostKey=${hostKey}`,
      '-o', `PidFile=${path.join(dir, 'sshd.pid')}`, '-o', `SetEnv=${setEnv}`]
    : [SSHD, '-D', '-e', '-f', SSHD_CONFIG, '-o', 'ListenAddress=127.0.0.1', '-o', `Port=${p}`,
      '-o', `HostKey=${hostKey}`, '-o', `PidFile=${path.join(dir, 'sshd', 'sshd.pid')}`,
      '-o', `AuthorizedKeysFile=${path.join(home, '.ssh', 'authorized_keys')}`, '-o', `SetEnv=${setEnv}`];
  const spawnSshd = async (p: number) => {
    pids.sshdPid = spawnDaemon(sshdArgv(p), sshdLog, mode === 'loopback' && createdUser ? { uid, gid } : {});
    saveOwner();
    await waitForSshd(host, p, pids.sshdPid, sshdLog);
  };
  if (mode === 'netns') {
    await spawnSshd(port);
  } else {
    // A port picked free can be taken before sshd binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await spawnSshd(port);
        break;
      } catch (err) {
        killTree(pids.sshdPid!, 'SIGKILL');
        if (attempt >= 3 || !/Address already in use/.test(tail(sshdLog))) throw err;
      }
    }
  }

  /** Every process that makes up the workspace (all of the namespace, or our process trees). */
  const workspacePids = async (): Promise<number[]> => {
    if (mode === 'netns') {
      const r = await run(['ip', 'netns', 'pids', names.netns]);
      return r.stdout.split(/\s+/).filter(Boolean).map(Number);
    }
    const roots = [pids.sshdPid, pids.modelPid, ...pids.extraPids].filter((p): p is number => p !== undefined);
    return roots.flatMap((r) => [r, ...descendants(r)]);
  };

  const knownHostsPath = path.join(privateDir, 'known_hosts');
  fs.writeFileSync(knownHostsPath, `${port === 22 ? host : `[${host}]:${port}`} ${hostPublicKey.split(/\s+/).slice(0, 2).join(' ')}\n`);

  const runAsUser = (argv: readonly string[], o: RunOptions = {}): Promise<RunResult> => {
    const envArgs = Object.entries({ ...userEnv, ...(o.env ?? {}) }).map(([k, v]) => `${k}=${v}`);
    const cwd = o.cwd ?? home;
    if (mode === 'netns') {
      return run(['ip', 'netns', 'exec', names.netns, 'setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups',
        'env', '-i', ...envArgs, ...argv], { ...o, cwd, env: {} as NodeJS.ProcessEnv });
    }
    return run(['env', '-i', ...envArgs, ...argv], { ...o, cwd, ...(createdUser ? { uid, gid } : {}) });
  };

  let closed = false;
  const ws: Workspace = {
    name, mode, isolated: mode === 'netns', slot: names.slot, host, port, user, uid, gid, home,
    privateKeyPath, hostKeyFingerprint, hostPublicKey, knownHostsPath,
    netns: mode === 'netns' ? names.netns : null, modelPort, opencodeBin, dir, userEnv, modelLogPath,
    runAsUser,
    runInside: (argv, o = {}) => run(mode === 'netns' ? ['ip', 'netns', 'exec', names.netns, ...argv] : argv, o),
    sshArgv: (remoteArgv = [], extra = []) => [
      'ssh', '-F', '/dev/null', '-i', privateKeyPath, '-p', String(port),
      '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHostsPath}`,
      '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10', '-o', 'LogLevel=ERROR', ...extra,
      `${user}@${host}`, ...(remoteArgv.length ? ['--', remoteArgv.map(quoteArg).join(' ')] : []),
    ],
    setModelMode: (m) => {
      const tmp = `${modeFile}.tmp`;
      fs.writeFileSync(tmp, m ? JSON.stringify(m) : '');
      fs.renameSync(tmp, modeFile);
    },
    leftovers: () => leftoversOf(names.slot, { mode, createdUser, sshdPid: pids.sshdPid, modelPid: pids.modelPid, user, ownerPid: process.pid }),
    killSshd: async () => {
      // The listener and every per-connection sshd: "all sshd processes".
      const victims = [pids.sshdPid!, ...descendants(pids.sshdPid!)].filter((p) => commOf(p) === 'sshd');
      for (const p of victims) signalPid(p, 'SIGKILL');
      await waitFor('every sshd of the workspace to exit', () => victims.every((p) => !processAlive(p)), { timeoutMs: 10_000 });
    },
    startSshd: async () => {
      if (pids.sshdPid !== undefined && processAlive(pids.sshdPid)) throw new Error('testbed: sshd is running already');
      await spawnSshd(port);
    },
    freeze: async () => {
      for (const p of await workspacePids()) signalPid(p, 'SIGSTOP');
    },
    thaw: async () => {
      for (const p of await workspacePids()) signalPid(p, 'SIGCONT');
    },
    spawnAsUser: (argv, o = {}) => {
      const envArgs = Object.entries(userEnv).map(([k, v]) => `${k}=${v}`);
      const full = mode === 'netns'
        ? ['ip', 'netns', 'exec', names.netns, 'setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', 'env', '-i', ...envArgs, ...argv]
        : ['env', '-i', ...envArgs, ...argv];
      const child = spawn(full[0]!, full.slice(1), {
        cwd: o.cwd ?? home, stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: {},
        ...(mode === 'loopback' && createdUser ? { uid, gid } : {}),
      });
      if (o.input !== undefined) {
        child.stdin!.on('error', () => {});
        child.stdin!.end(o.input);
      }
      const pid = child.pid;
      if (pid !== undefined) {
        pids.extraPids.push(pid);
        saveOwner();
        // Forgotten once it exits: teardown (or a later sweep) kills every pid listed,
        // and a short-lived child's pid may by then be an unrelated process's.
        child.once('exit', () => {
          const i = pids.extraPids.indexOf(pid);
          if (i >= 0) pids.extraPids.splice(i, 1);
          if (!closed) saveOwner();
        });
      }
      return child;
    },
    sshdInetdArgv: () => {
      const inetd = [SSHD, '-i', '-e', '-f', SSHD_CONFIG, '-o', `HostKey=${hostKey}`, '-o', `SetEnv=${setEnv}`];
      return mode === 'netns' ? ['ip', 'netns', 'exec', names.netns, ...inetd]
        : [...inetd, '-o', `AuthorizedKeysFile=${path.join(home, '.ssh', 'authorized_keys')}`];
    },
    startLoopbackSshd: async (p) => {
      if (mode !== 'netns') throw new Error('testbed: a loopback-only sshd needs a namespace');
      const log = path.join(dir, `sshd-${p}.log`);
      const pid = spawnDaemon(['ip', 'netns', 'exec', names.netns, SSHD, '-D', '-e', '-f', SSHD_CONFIG,
        '-o', 'ListenAddress=127.0.0.1', '-o', `Port=${p}`, '-o', `HostKey=${hostKey}`,
        '-o', `PidFile=${path.join(dir, `sshd-${p}.pid`)}`, '-o', `SetEnv=${setEnv}`], log);
      pids.extraPids.push(pid);
      saveOwner();
      await waitFor(`sshd on the workspace's 127.0.0.1:${p}`, () => {
        if (/Server listening on 127\.0\.0\.1 port/.test(fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '')) return true;
        if (!processAlive(pid)) throw new Error(`sshd exited: ${tail(log)}`);
        return undefined;
      }, { timeoutMs: 15_000 });
    },
    startTarget: async (targetPort = TARGET_PORT_IN_NS) => {
      const out = path.join(dir, `target-${pids.extraPids.length}.out`);
      const argv = [process.execPath, TARGET_MAIN, '--host', '127.0.0.1', '--port', String(mode === 'netns' ? targetPort : 0)];
      const pid = spawnDaemon(mode === 'netns' ? ['ip', 'netns', 'exec', names.netns, ...argv] : argv, out);
      pids.extraPids.push(pid);
      saveOwner();
      const got = await waitFor('the HTTP target to listen', () => {
        const m = /target listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '');
        if (m) return Number(m[1]);
        if (!processAlive(pid)) throw new Error(`HTTP target exited: ${tail(out)}`);
        return undefined;
      }, { timeoutMs: 15_000 });
      return {
        port: got,
        stop: async () => {
          killTree(pid, 'SIGKILL');
          await waitFor('the HTTP target to exit', () => !processAlive(pid), { timeoutMs: 10_000 });
        },
      };
    },
    close: async () => {
      if (closed) return;
      closed = true;
      teardownSlotSync(names.slot);
      live.delete(names.slot);
    },
  };
  return ws;
}

function procStat(pid: number): { comm: string; ppid: number; state: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const rest = stat.slice(close + 2).split(' ');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), state: rest[0] ?? '', ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

export function commOf(pid: number): string | undefined { return procStat(pid)?.comm; }

/** Every process below pid, by walking /proc's parent links. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const st = procStat(Number(e));
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(Number(e));
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function signalPid(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig); } catch { /* gone */ }
}

function killTree(pid: number, sig: NodeJS.Signals): void {
  for (const p of [pid, ...descendants(pid)]) signalPid(p, sig);
}

export function processAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat); // a zombie has exited
  } catch {
    return false;
  }
}

async function waitForSshd(host: string, port: number, pid: number, log: string): Promise<void> {
  await waitFor(`sshd on ${host}:${port}`, async () => {
    if (await tcpOpen(host, port)) return true;
    if (!processAlive(pid)) throw new Error(`sshd exited: ${tail(log)}`);
    return undefined;
  }, { timeoutMs: 15_000 });
}

async function setUpNetwork(n: SlotNames): Promise<void> {
  await runOk(['ip', 'netns', 'add', n.netns]).catch(async (err: Error) => {
    throw new Error(`testbed: cannot create network namespace ${n.netns} (${err.message}); set WARREN_TESTBED_MODE=loopback to run without namespaces`);
  });
  await runOk(['ip', 'link', 'add', n.vethHost, 'type', 'veth', 'peer', 'name', n.vethNs, 'netns', n.netns]);
  await runOk(['ip', 'addr', 'add', `${n.hostAddr}/30`, 'dev', n.vethHost]);
  await runOk(['ip', 'link', 'set', n.vethHost, 'up']);
  // No default route inside: the namespace reaches its own /30 and nothing else,
  // so two workspaces cannot see each other even where the host forwards packets.
  await runOk(['ip', '-n', n.netns, 'addr', 'add', `${n.nsAddr}/30`, 'dev', n.vethNs]);
  await runOk(['ip', '-n', n.netns, 'link', 'set', n.vethNs, 'up']);
  await runOk(['ip', '-n', n.netns, 'link', 'set', 'lo', 'up']);
}

function chownTree(dir: string, uid: number, gid: number): void {
  if (process.getuid?.() !== 0) return;
  fs.lchownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, uid, gid);
    else fs.lchownSync(p, uid, gid);
  }
}

export function workspaceSlotNames(slot: number): SlotNames { return slotNames(slot); }
export { readOwner };
