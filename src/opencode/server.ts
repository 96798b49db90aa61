// The lifecycle of one workspace's `opencode serve` (status shows adopting as
// stopped, every other state as itself):
//
//   stopped --ensureRunning()--> starting --healthy--> running (started here)
//   starting --a server of ours already listens--> running (adopted)
//   starting --failed--> failed (reason kept; the next ensureRunning tries again)
//   stopped --adoptIfRunning()--> adopting --ours--> running (adopted), else --> stopped
//   running --idle for idleTimeoutMs / stop()--> stopped
//   running --found dead (a request was refused)--> stopped, restarted on next use
//   stopped, failed --stop(), if unsure--> stopped
//
// `unsure`, on every state but running: a start was cut off (the link dropped)
// before its script answered, so a server may be running all the same and stop()
// must not skip it. Sending the start script sets it; the script answering that it
// failed, a server adopted or running, or a stop that succeeded clears it.
//
// Adopting and starting hold their single flight: concurrent first requests share
// one start, and a request during an adoption waits for it. A server that warren
// started earlier (before a daemon restart, say) is adopted rather than started
// twice; a port held by anything else is a clear error. Beside the state: a stop
// under way (`stopping`) leaves it as it was until the stop script answers, and
// requests wait for it; close() (`closed`) retires this object in any state, so
// nothing starts, adopts or idles after it.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import { silentLogger, type Logger } from '../log.js';
import type { Link } from '../ssh/link.js';
import { createLinkDispatcher, RenewableDispatcher } from '../ssh/dispatcher.js';
import { PortBusyError, ServerStartError, WorkspaceClosedError, isWarrenError } from '../errors.js';
import { INSPECT, START, STOP } from './scripts.js';
import { opencodeAuthorization } from './basic-auth.js';

export type ServerState = 'stopped' | 'starting' | 'running' | 'failed';

/** The state as warren knows it; `ServerState` is what it shows (see OUTWARD). */
type Phase =
  | { name: 'stopped'; unsure: boolean }
  | { name: 'adopting'; done: Promise<void>; unsure: boolean }
  | { name: 'starting'; done: Promise<void>; unsure: boolean }
  | { name: 'running'; startedHere: boolean }
  | { name: 'failed'; unsure: boolean };

const OUTWARD: Record<Phase['name'], ServerState> = { stopped: 'stopped', adopting: 'stopped', starting: 'starting', running: 'running', failed: 'failed' };

export interface ServerOptions {
  workspace: string;
  port: number;
  command: string;
  idleTimeoutMs: number;
  startTimeoutMs: number;
  logger?: Logger;
}

export interface ServerSnapshot {
  state: ServerState;
  port: number;
  version: string | null;
  pid: number | null;
  /** Whether this process started it (false: adopted, or not running). */
  startedHere: boolean;
  starts: number;
  restarts: number;
  adoptions: number;
  lastFailure: { message: string; at: string } | null;
  /** Milliseconds since the last request or stream ended, while running and unused. */
  idleMs: number | null;
  activeStreams: number;
}

const HEALTH_TIMEOUT_MS = 5000;
/** While adopting a server of ours that is still coming up: each probe, and the pause between. */
const ADOPT_PROBE_MS = 1500;
const ADOPT_RETRY_MS = 200;

export class OpencodeServer extends EventEmitter {
  readonly dispatcher: RenewableDispatcher;
  readonly link: Link;
  private readonly o: ServerOptions;
  private readonly log: Logger;
  private phase: Phase = { name: 'stopped', unsure: false };
  private stopping: Promise<void> | undefined;
  private instanceValue = 0;
  private password: string | null = null;
  private versionValue: string | null = null;
  private pid: number | null = null;
  private starts = 0;
  private restarts = 0;
  private adoptions = 0;
  private lastFailure: { message: string; at: number } | null = null;
  private leases = 0;
  private lastActivity = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(link: Link, o: ServerOptions) {
    super();
    this.link = link;
    this.o = o;
    this.log = (o.logger ?? silentLogger).child({ ws: o.workspace, component: 'opencode' });
    // Long event streams: opencode sends a heartbeat every 10 s.
    this.dispatcher = new RenewableDispatcher(() => createLinkDispatcher(link, { target: { host: '127.0.0.1', port: o.port }, bodyTimeoutMs: 60_000 }));
  }

  get state(): ServerState { return OUTWARD[this.phase.name]; }
  get workspace(): string { return this.o.workspace; }
  /**
   * Which server this is (a start or an adoption each make a new one): a connection
   * that broke on an earlier one met a server that is gone, even if another already
   * listens on the port.
   */
  get instance(): number { return this.instanceValue; }
  get baseUrl(): string { return `http://127.0.0.1:${this.o.port}`; }

  /** The Authorization header for the current server (its password changes with every start). */
  authorization(): string {
    return opencodeAuthorization(this.password ?? '');
  }

  /** Whether ensureRunning() would resolve at once: running, no stop under way, not closed. Marks use like it. */
  runningNow(): boolean {
    if (this.closed || this.stopping || this.phase.name !== 'running') return false;
    this.touch();
    return true;
  }

  /** Resolves when the server answers; starts or adopts it first if needed. Single-flight. */
  ensureRunning(): Promise<void> {
    if (this.closed) return Promise.reject(new WorkspaceClosedError(this.o.workspace));
    this.touch();
    // An idle stop under way: a request now must not reach a server about to go.
    if (this.stopping) return this.stopping.catch(() => {}).then(() => this.ensureRunning());
    const p = this.phase;
    switch (p.name) {
      case 'running': return Promise.resolve();
      // An adoption in progress decides first; then start if it found nothing.
      case 'adopting': return p.done.then(() => this.ensureRunning());
      case 'starting': return p.done;
      default: return inFlight((done) => this.setState({ name: 'starting', done, unsure: p.unsure }), () => this.bringUp());
    }
  }

  /**
   * Adopts a server warren started earlier (a previous daemon's --keep-servers) if
   * one is there, so it shows as running and its idle timer runs; starts nothing.
   */
  async adoptIfRunning(): Promise<boolean> {
    const p = this.phase;
    if (p.name !== 'stopped') return false;
    let adopted = false;
    await inFlight((done) => this.setState({ name: 'adopting', done, unsure: p.unsure }), async () => {
      try {
        adopted = await this.tryAdopt();
      } catch {
        adopted = false; // not ours, or not answering: the next request will say so
      }
      if (adopted) {
        this.setState({ name: 'running', startedHere: false });
        this.touch();
      } else {
        this.setState({ name: 'stopped', unsure: this.unsure });
      }
    });
    return adopted;
  }

  /**
   * Marks use: a request, or the start of a stream (pair with release()). A quiet
   * lease only holds off an idle stop while it lasts: a background read (usage) must
   * not keep a server up that nobody uses.
   */
  acquire(o: { quiet?: boolean } = {}): () => void {
    this.leases++;
    if (o.quiet) clearTimeout(this.idleTimer);
    else this.touch();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.leases--;
      if (o.quiet) this.armIdle();
      else this.touch();
    };
  }

  /**
   * After a connection to the server broke with the link up: whether it still
   * listens. A refused channel means it died (and it is marked so); link failures
   * are thrown for the caller to tell apart.
   */
  async stillThere(): Promise<boolean> {
    try {
      (await this.link.openSocket('127.0.0.1', this.o.port)).destroy();
      return true;
    } catch (err) {
      if (!isWarrenError(err) || err.code !== 'WARREN_ERR_CHANNEL_REFUSED') throw err;
      this.markGone('nothing listens on its port');
      return false;
    }
  }

  /** Called when a request found nothing listening: the server died. */
  markGone(reason: string): void {
    if (this.phase.name !== 'running') return;
    this.log.warn({ reason }, 'opencode is gone');
    this.recordFailure(`opencode stopped: ${reason}`);
    this.password = null;
    this.pid = null;
    this.setState({ name: 'stopped', unsure: false });
  }

  snapshot(): ServerSnapshot {
    const f = this.lastFailure;
    return {
      state: this.state,
      port: this.o.port,
      version: this.versionValue,
      pid: this.pid,
      startedHere: this.phase.name === 'running' && this.phase.startedHere,
      starts: this.starts,
      restarts: this.restarts,
      adoptions: this.adoptions,
      lastFailure: f ? { message: f.message, at: new Date(f.at).toISOString() } : null,
      idleMs: this.phase.name === 'running' && this.leases === 0 ? Date.now() - this.lastActivity : null,
      activeStreams: this.leases,
    };
  }

  /** Stops the server if warren started it (here or before a restart). */
  async stop(reason = 'requested'): Promise<void> {
    clearTimeout(this.idleTimer);
    if (this.phase.name === 'starting') await this.phase.done.catch(() => {});
    if (this.stopping) return this.stopping;
    if (this.phase.name !== 'running' && !this.unsure) return;
    this.stopping = this.stopNow(reason).finally(() => { this.stopping = undefined; });
    return this.stopping;
  }

  private async stopNow(reason: string): Promise<void> {
    this.log.info({ reason }, 'stopping opencode');
    const r = await this.link.exec(['sh', '-c', STOP, 'warren-stop', String(this.o.port)], { timeoutMs: 20_000 });
    if (r.code !== 0) this.log.warn({ code: r.code, stderr: r.stderr.trim() }, 'stopping opencode failed');
    const unsure = r.code !== 0 && this.unsure;
    this.password = null;
    this.pid = null;
    // An adoption that began meanwhile (it can, from stopped) goes on: it shows as stopped already.
    if (this.phase.name === 'adopting') this.setState({ ...this.phase, unsure });
    else this.setState({ name: 'stopped', unsure });
  }

  /** Forgets the server without stopping it (warren exits, the server stays for the next one). */
  async close(o: { stopServer: boolean }): Promise<void> {
    if (o.stopServer && this.link.state === 'up') await this.stop('closing').catch(() => {});
    this.closed = true;
    clearTimeout(this.idleTimer);
    await this.dispatcher.destroy();
  }

  // ---- internals ----

  /** The flight of the starting state: adopt what listens, or start one. */
  private async bringUp(): Promise<void> {
    const ranBefore = this.instanceValue > 0; // each server that ran is an instance
    try {
      const adopted = await this.tryAdopt();
      if (!adopted) await this.start();
      if (ranBefore && !adopted) this.restarts++;
      this.setState({ name: 'running', startedHere: !adopted });
      this.touch();
    } catch (err) {
      const e = isWarrenError(err) ? err : new ServerStartError(this.o.workspace, (err as Error).message);
      this.recordFailure(e.message);
      this.setState({ name: 'failed', unsure: this.unsure });
      throw e;
    }
  }

  /** Something listens on the port: adopt it if warren started it, refuse otherwise. */
  private async tryAdopt(): Promise<boolean> {
    let probe;
    try {
      probe = await this.link.openSocket('127.0.0.1', this.o.port);
    } catch (err) {
      if (isWarrenError(err) && err.code === 'WARREN_ERR_CHANNEL_REFUSED') return false;
      throw err;
    }
    probe.destroy();
    const busy = () => new PortBusyError(this.o.workspace, this.o.port);
    const r = await this.link.exec(['sh', '-c', INSPECT, 'warren-inspect', String(this.o.port)], { timeoutMs: 10_000 });
    if (r.code !== 0) throw busy();
    const [pidLine, password, liveness] = r.stdout.split('\n');
    if (!password) throw busy();
    // opencode opens its port a moment before it answers, and a request sent in that
    // window gets no reply at all. A server of ours still coming up (its start was cut
    // off by a link drop) is therefore probed again, briefly each time, until the start
    // deadline; anything else that does not answer is not ours.
    const stillComing = liveness === 'alive';
    const deadline = Date.now() + (stillComing ? this.o.startTimeoutMs : 0);
    const ask = async (pw: string) => {
      for (;;) {
        const res = await this.health(pw, stillComing ? ADOPT_PROBE_MS : HEALTH_TIMEOUT_MS).catch(() => null);
        if (res || Date.now() >= deadline || this.closed || this.link.state !== 'up') return res;
        await delay(ADOPT_RETRY_MS);
      }
    };
    // Ours only if it insists on our password: a server without one answers anybody.
    const wrong = await ask(`${password}x`);
    if (!wrong || wrong.status !== 401) throw busy();
    const right = await ask(password);
    if (!right || right.status !== 200 || !right.version) throw busy();
    this.password = password;
    this.pid = Number(pidLine) || null;
    this.versionValue = right.version;
    this.adoptions++;
    this.log.info({ version: right.version, pid: this.pid }, 'adopted a running opencode started earlier by warren');
    return true;
  }

  private async start(): Promise<void> {
    // Connections to a server that died may still sit in the pool.
    this.dispatcher.renew();
    const password = randomBytes(24).toString('base64url');
    this.starts++;
    this.emit('progress', `starting opencode in ${this.o.workspace}…`);
    this.log.info({ port: this.o.port }, 'starting opencode');
    const timeoutS = Math.ceil(this.o.startTimeoutMs / 1000);
    this.setUnsure(true);
    const r = await this.link.exec(['sh', '-lc', START, 'warren-start', String(this.o.port), this.o.command, String(timeoutS)], {
      stdin: `${password}\n`, timeoutMs: this.o.startTimeoutMs + 10_000,
    });
    // Only the script saying it failed settles it; a cut channel (code null) does not.
    if (r.code !== null && r.code !== 0) this.setUnsure(false);
    const word = r.stdout.trim().split('\n').pop() ?? '';
    if (r.code !== 0 || !word.startsWith('ready ')) {
      const why = r.code === 91 ? `it exited: ${lastLine(r.stderr)}`
        : r.code === 92 ? `it did not listen within ${timeoutS} s`
          : r.code === 127 || /not found/.test(r.stderr) ? `${this.o.command} was not found on the workspace user's PATH`
            : `${lastLine(r.stderr) || `start script exited ${r.code}`}`;
      throw new ServerStartError(this.o.workspace, why);
    }
    this.password = password;
    this.pid = Number(word.slice(6)) || null;
    const h = await this.health(password);
    if (h.status !== 200 || !h.version) throw new ServerStartError(this.o.workspace, `its health check answered ${h.status}`);
    this.versionValue = h.version;
    this.log.info({ version: h.version, pid: this.pid }, 'opencode running');
  }

  private async health(password: string, timeoutMs = HEALTH_TIMEOUT_MS): Promise<{ status: number; version: string | null }> {
    const res = await request(`${this.baseUrl}/global/health`, {
      dispatcher: this.dispatcher,
      headers: { authorization: opencodeAuthorization(password) },
      headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200 || !/json/.test(String(res.headers['content-type']))) return { status: res.statusCode, version: null };
    const body = JSON.parse(text) as { healthy?: boolean; version?: string };
    return { status: body.healthy ? 200 : 503, version: body.version ?? null };
  }

  private touch(): void {
    this.lastActivity = Date.now();
    this.armIdle();
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    if (this.closed || this.phase.name !== 'running' || this.leases > 0) return;
    // From the last use, not from now: a quiet lease ending re-arms without extending.
    const left = Math.max(0, this.lastActivity + this.o.idleTimeoutMs - Date.now());
    this.idleTimer = setTimeout(() => {
      if (this.leases > 0 || this.phase.name !== 'running') return;
      void this.stop(`idle for ${this.o.idleTimeoutMs} ms`).catch((err: Error) => this.log.warn({ err: err.message }, 'idle stop failed'));
    }, left);
    this.idleTimer.unref();
  }

  private recordFailure(message: string): void {
    this.lastFailure = { message, at: Date.now() };
  }

  /** Whether a cut-off start may have left a server running (never so while running). */
  private get unsure(): boolean { return this.phase.name !== 'running' && this.phase.unsure; }

  private setUnsure(unsure: boolean): void { if (this.phase.name !== 'running') this.setState({ ...this.phase, unsure }); }

  /** Every change of phase; only a change of what shows is logged and emitted. */
  private setState(next: Phase): void {
    const from = this.state;
    this.phase = next;
    const to = this.state;
    if (from === to) return;
    if (to === 'running') this.instanceValue++;
    this.log.info({ from, to }, 'opencode state');
    this.emit('state', { from, to, at: Date.now() });
  }
}

/** Runs `work` as the flight of a state that holds it, entered (`enter`) before the work begins. */
function inFlight(enter: (done: Promise<void>) => void, work: () => Promise<void>): Promise<void> {
  let follow!: (outcome: Promise<void>) => void;
  const done = new Promise<void>((resolve) => { follow = resolve; });
  enter(done);
  follow(work());
  return done;
}

function lastLine(s: string): string {
  return s.trim().split('\n').pop()?.trim() ?? '';
}
