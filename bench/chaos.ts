// The soak: many messages through one broker on several test-bed workspaces while
// faults are injected at random (seeded, so a run can be replayed), then a count of
// what went wrong. What is counted, per message and at the end:
//
//   ok         the complete reply, text exactly as the fake model echoes it
//   error      a WarrenError with a code, settled within the call's bound, that a
//              fault or directive on that message explains: the model's error
//              (CHAT_FAILED), its silence (CHAT_STALLED/CHAT_TIMEOUT), opencode
//              killed mid-run (SERVER_GONE) or as it was being started again
//              (SERVER_START). Transport faults (sshd killed,
//              workspace frozen, network cut) heal within the reconnect wait, so
//              they explain no error at all.
//   unexplained an error nothing explains: a bug
//   hung       not settled within the bound (or settled after it): a bug
//   unclear    rejected with something that is not a WarrenError: a bug
//   wrong      resolved, but with a reply other than the expected text: a bug
//   lost       the caller got a reply, but the message or that reply is missing
//              from the session's history: a bug
//   duplicated a user text or a non-empty assistant text appearing more than once
//              in a session's history: a bug
//   leaked     after broker.close(): handles or fds above the baseline, processes of
//              a workspace user left, or workspace leftovers after teardown: a bug
//
// A message that failed with a clear error may be in the history once or not at
// all (the error may have come before it reached opencode): both are fine.
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { createWorkspaces, run, runOk, waitFor, type Workspace } from '../container/testbed/index.js';
import { slotNames } from '../container/testbed/slots.js';
import { Broker } from '../src/broker/broker.js';
import type { WarrenConfig, WorkspaceConfig } from '../src/config/schema.js';
import type { SessionInfo } from '../src/opencode/locate.js';
import { isWarrenError } from '../src/errors.js';
import { RECONNECT_WAIT_MS } from '../src/opencode/across-drops.js';
import type { Logger } from '../src/log.js';

export type FaultKind = 'sshd-kill' | 'freeze' | 'veth-down' | 'opencode-kill';
export type Directive = 'model-slow' | 'model-error' | 'model-hang';
const FAULT_KINDS: readonly FaultKind[] = ['sshd-kill', 'freeze', 'veth-down', 'opencode-kill'];
/** The faults that heal: the link drops and comes back, opencode and the model go on. */
const TRANSPORT_FAULTS: readonly string[] = ['sshd-kill', 'freeze', 'veth-down'];

export interface ChaosOptions {
  messages: number;
  workspaces: number;
  seed: number;
  /** Sessions per workspace; each has one message in flight at a time. Default 4. */
  sessions?: number;
  /** Messages in flight per workspace. Default 2. */
  concurrency?: number;
  /** Gap between two faults anywhere, ms: uniformly in [min, max]. Default [800, 2500]. */
  faultGapMs?: [number, number];
  /** How long a freeze or a network cut lasts, ms: uniformly in [min, max]. Default [3000, 6000]. */
  holdMs?: [number, number];
  /** Stop injecting after this many faults (default: no limit), so a small run stays short on a slow machine. */
  maxFaults?: number;
  /** Share of messages carrying a model directive. Defaults: slow 0.05, error 0.03, hang 0.01. */
  directives?: Partial<Record<Directive, number>>;
  /** Where progress lines go (the seed first, then every fault as it happens). */
  log?: (line: string) => void;
  logger?: Logger;
}

export interface Outcomes { ok: number; error: number; unexplained: number; hung: number; unclear: number; wrong: number }

/** Which error codes each fault or directive may cause; anything else is a bug. */
export const EXPLAINS: Readonly<Record<string, readonly string[]>> = {
  'model-error': ['WARREN_ERR_CHAT_FAILED'],
  'model-hang': ['WARREN_ERR_CHAT_STALLED', 'WARREN_ERR_CHAT_TIMEOUT'],
  // Killed mid-run, or killed while warren was starting it again.
  'opencode-kill': ['WARREN_ERR_SERVER_GONE', 'WARREN_ERR_SERVER_START'],
};

export interface ChaosResult {
  seed: number;
  messages: number;
  workspaces: number;
  sessions: number;
  durationMs: number;
  outcomes: Outcomes;
  errorsByCode: Record<string, number>;
  /** Errors by "code <- the fault or directive that explains it". */
  errorsByCause: Record<string, number>;
  /** Faults that could not be injected or healed: the run did not test what it says. */
  injectFailures: number;
  /** Faults injected, by kind, and messages by directive. */
  faults: Record<FaultKind, number>;
  directives: Record<Directive, number>;
  /** Outcomes of the messages that were in flight while a fault of that kind was on (or carried that directive). */
  byFault: Record<string, Outcomes>;
  lost: number;
  duplicated: number;
  leaked: number;
  /** One line per bug found (capped), to start debugging from. */
  problems: string[];
  /** Replies per second over the message phase. */
  rate: number;
}

// ---- a small seeded PRNG (mulberry32), so a seed names one run ----

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const between = (rnd: () => number, min: number, max: number) => Math.floor(min + rnd() * (max - min + 1));
const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

// ---- timeouts: generous enough for faults, short enough to keep the soak moving ----

const START_TIMEOUT_MS = 30_000;
/**
 * The watchdogs are short (a stalled run is found quickly); the deadline is not. A
 * message after an opencode kill pays a cold start and a first prompt, and on a loaded
 * machine (two CPU burners beside the test suite, load 10 on 2 cores) those took 15 s
 * and 10 s, so all six messages in flight went past a 60 s deadline while opencode
 * worked on them: a slow reply, not a lost one. The deadline is the caller's bound on
 * a run that keeps moving; a run that stops moving still ends by the watchdogs.
 */
const CHAT = { heartbeatTimeoutMs: 15_000, progressTimeoutMs: 10_000, deadlineMs: 150_000, reconnectWaitMs: RECONNECT_WAIT_MS };
/**
 * The longest a call may take before it settles: the broker's wait for the tunnel
 * (the reconnect wait), an opencode start (its timeout + the exec's 10 s), the chat
 * deadline, and slack for a loaded machine. Not settled by then = hung.
 */
export const CALL_BOUND_MS = RECONNECT_WAIT_MS + START_TIMEOUT_MS + 10_000 + CHAT.deadlineMs + 20_000;

function configOf(wss: Workspace[]): WarrenConfig {
  const workspaces = new Map<string, WorkspaceConfig>(wss.map((w) => [w.name, {
    name: w.name, host: w.host, port: w.port, user: w.user, privateKeyPath: w.privateKeyPath, hostKeyFingerprints: [w.hostKeyFingerprint],
    importFrom: [], transport: { kind: 'tcp' }, keepalive: { intervalMs: 1000, timeoutMs: 1800 },
    opencode: { port: 4096, command: 'opencode', idleTimeoutMs: 600_000, startTimeoutMs: START_TIMEOUT_MS },
  }]));
  return { workspaces, gateway: { listen: '127.0.0.1:7391', token: null, tokenFile: null, stateDir: null, allowedOrigins: [] }, logLevel: 'silent', path: null };
}

// ---- the plan: every message and every fault follows from the seed alone ----

interface Planned { id: string; ws: number; session: number; prompt: string; directive: Directive | null }
interface PlannedFault { atMs: number; ws: number; kind: FaultKind; holdMs: number }

function planMessages(o: Required<Pick<ChaosOptions, 'messages' | 'workspaces' | 'sessions' | 'seed'>> & { directives: Record<Directive, number> }): Planned[] {
  const rnd = mulberry32(o.seed);
  const out: Planned[] = [];
  for (let n = 0; n < o.messages; n++) {
    const ws = n % o.workspaces;
    const session = Math.floor(n / o.workspaces) % o.sessions;
    const nonce = Math.floor(rnd() * 2 ** 32).toString(16).padStart(8, '0');
    const id = `m-${ws}-${n}-${nonce}`;
    const r = rnd();
    const d = o.directives;
    const directive: Directive | null = r < d['model-hang'] ? 'model-hang'
      : r < d['model-hang'] + d['model-error'] ? 'model-error'
        : r < d['model-hang'] + d['model-error'] + d['model-slow'] ? 'model-slow' : null;
    // 400, not 500: opencode retries a 5xx with backoff, which only makes a slow error.
    const prefix = directive === 'model-hang' ? '[[fake:hang]] '
      : directive === 'model-error' ? '[[fake:error=400]] '
        : directive === 'model-slow' ? `[[fake:slow=${between(rnd, 20, 150)}]] ` : '';
    out.push({ id, ws, session, prompt: `${prefix}${id} hello from the soak`, directive });
  }
  return out;
}

/** Faults as an endless seeded sequence; at most one at a time per workspace. */
function* planFaults(seed: number, workspaces: number, gap: [number, number], holds: [number, number]): Generator<PlannedFault> {
  const rnd = mulberry32(seed ^ 0x5eed5eed);
  const freeAt = new Array<number>(workspaces).fill(0);
  let at = 0;
  for (;;) {
    at += between(rnd, gap[0], gap[1]);
    const ws = between(rnd, 0, workspaces - 1);
    const kind = pick(rnd, FAULT_KINDS);
    const holdMs = kind === 'opencode-kill' ? 0 : kind === 'sshd-kill' ? between(rnd, 200, 3000) : between(rnd, holds[0], holds[1]);
    const start = Math.max(at, freeAt[ws]!);
    freeAt[ws] = start + holdMs + 500;
    yield { atMs: start, ws, kind, holdMs };
  }
}

// ---- leak probes ----

function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

function above(now: Record<string, number>, base: Record<string, number>): string[] {
  return Object.keys(now).filter((k) => (now[k] ?? 0) > (base[k] ?? 0)).map((k) => `${k} ${base[k] ?? 0} -> ${now[k]}`);
}

async function userPids(ws: Workspace): Promise<string[]> {
  const r = await run(['pgrep', '-a', '-u', ws.user]);
  return r.stdout.split('\n').filter(Boolean);
}

// ---- the run ----

const emptyOutcomes = (): Outcomes => ({ ok: 0, error: 0, unexplained: 0, hung: 0, unclear: 0, wrong: 0 });

interface Record_ { plan: Planned; outcome: keyof Outcomes; code?: string; cause?: string; message?: string; faults: Set<string>; reply?: string }

/** The fault or directive on this message that explains its error code, if any. */
export function causeOf(code: string, faults: Iterable<string>): string | null {
  for (const f of faults) if (EXPLAINS[f]?.includes(code)) return f;
  return null;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const sessionsPer = opts.sessions ?? 4;
  const concurrency = opts.concurrency ?? 2;
  const gap = opts.faultGapMs ?? [800, 2500];
  const directives = { 'model-slow': 0.05, 'model-error': 0.03, 'model-hang': 0.01, ...opts.directives };
  const log = opts.log ?? (() => {});
  const problems: string[] = [];
  const problem = (line: string) => { if (problems.length < 50) problems.push(line); };
  log(`chaos: seed ${opts.seed} (replay with --seed ${opts.seed}); ${opts.messages} messages, ${opts.workspaces} workspaces, ${sessionsPer} sessions each, ${concurrency} in flight per workspace`);

  const plan = planMessages({ messages: opts.messages, workspaces: opts.workspaces, sessions: sessionsPer, seed: opts.seed, directives });
  const t0 = performance.now();
  const wss = await createWorkspaces(opts.workspaces, { namePrefix: 'chaos' });
  let broker: Broker | undefined;
  let leaked = 0;
  let injectFailures = 0;
  const faultCounts: Record<FaultKind, number> = { 'sshd-kill': 0, freeze: 0, 'veth-down': 0, 'opencode-kill': 0 };
  const records: Record_[] = [];
  const sessions: SessionInfo[][] = [];
  let messagePhaseMs = 0;
  let tornDown = false;
  try {
    global.gc?.();
    const baseHandles = handleCounts();
    const baseFds = fdCount();
    broker = new Broker(configOf(wss), opts.logger ? { logger: opts.logger } : {});
    const b = broker;

    // Sessions and a first message each, before any fault: the setup is not under test.
    for (const [i, w] of wss.entries()) {
      sessions[i] = [];
      for (let s = 0; s < sessionsPer; s++) sessions[i]!.push(await b.createSession(w.name, { title: `soak ${s}` }));
    }
    log(`chaos: ${wss.length * sessionsPer} sessions ready after ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // Faults currently on, per workspace (kinds), so every message can be tagged with what it went through.
    const active = wss.map(() => new Set<FaultKind>());
    const inflight = new Set<Record_>();
    const mark = (ws: number, kind: FaultKind) => {
      active[ws]!.add(kind);
      for (const r of inflight) if (r.plan.ws === ws) r.faults.add(kind);
    };

    const phaseStart = performance.now();
    const stamp = () => `+${((performance.now() - phaseStart) / 1000).toFixed(1)}s`;
    let done = false;
    let settled = 0;
    const faultChains = wss.map(() => Promise.resolve());

    const inject = async (f: PlannedFault): Promise<void> => {
      const w = wss[f.ws]!;
      faultCounts[f.kind]++;
      log(`chaos: ${stamp()} fault ${f.kind} on ${w.name}${f.holdMs ? ` for ${f.holdMs} ms` : ''}`);
      mark(f.ws, f.kind);
      const hold = () => new Promise((r) => setTimeout(r, f.holdMs));
      const veth = slotNames(w.slot).vethHost;
      try {
        switch (f.kind) {
          case 'sshd-kill': await w.killSshd(); await hold(); await w.startSshd(); break;
          case 'freeze': await w.freeze(); await hold(); await w.thaw(); break;
          case 'veth-down':
            await runOk(['ip', 'link', 'set', veth, 'down']);
            await hold();
            await runOk(['ip', 'link', 'set', veth, 'up']);
            break;
          case 'opencode-kill': await run(['pkill', '-KILL', '-u', w.user, '-f', 'opencode serve']); break;
        }
      } finally {
        active[f.ws]!.delete(f.kind);
      }
    };

    const scheduler = (async () => {
      let n = 0;
      for (const f of planFaults(opts.seed, wss.length, gap, opts.holdMs ?? [3000, 6000])) {
        if (++n > (opts.maxFaults ?? Infinity)) return;
        const wait = f.atMs - (performance.now() - phaseStart);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (done) return;
        faultChains[f.ws] = faultChains[f.ws]!.then(() => (done ? undefined : inject(f))).catch((err: Error) => {
          injectFailures++;
          problem(`fault ${f.kind} on ${wss[f.ws]!.name} could not be injected or healed: ${err.message}`);
        });
      }
    })();

    const sendOne = async (p: Planned, session: SessionInfo): Promise<void> => {
      const rec: Record_ = { plan: p, outcome: 'hung', faults: new Set([...active[p.ws]!, ...(p.directive ? [p.directive] : [])]) };
      const sent = performance.now();
      const sentAt = stamp();
      // Where a message's bug report starts: what it went through, how long it took, and how busy the machine was.
      const context = () => `faults: ${[...rec.faults].join(',') || 'none'}; sent at ${sentAt}, settled after ${((performance.now() - sent) / 1000).toFixed(1)} s, load average ${os.loadavg()[0]!.toFixed(1)}`;
      records.push(rec);
      inflight.add(rec);
      const ac = new AbortController();
      const call = b.sendMessage(wss[p.ws]!.name, session.id, { text: p.prompt, ...CHAT, signal: ac.signal }, session);
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<'bound'>((r) => { timer = setTimeout(() => r('bound'), CALL_BOUND_MS); });
      try {
        const r = await Promise.race([call.then((v) => ({ v }), (e: unknown) => ({ e })), bound]);
        if (r === 'bound') {
          rec.outcome = 'hung';
          problem(`hung: ${p.id} on ${wss[p.ws]!.name} not settled after ${CALL_BOUND_MS} ms (${context()})`);
          ac.abort();
          // Give the abort a moment, so a hung call does not also block the leak check forever.
          await Promise.race([call.catch(() => {}), new Promise((res) => setTimeout(res, 10_000))]);
        } else if ('v' in r) {
          rec.reply = r.v.text;
          const expected = `echo: ${p.prompt}`;
          if (r.v.text === expected && !p.directive?.match(/error|hang/)) rec.outcome = 'ok';
          else {
            rec.outcome = 'wrong';
            problem(`wrong reply to ${p.id}: ${JSON.stringify(r.v.text.slice(0, 120))} (${context()})`);
          }
        } else if (isWarrenError(r.e)) {
          rec.code = r.e.code;
          rec.message = r.e.message;
          const cause = causeOf(r.e.code, rec.faults);
          if (cause) {
            rec.outcome = 'error';
            rec.cause = cause;
          } else {
            rec.outcome = 'unexplained';
            problem(`unexplained error for ${p.id} on ${wss[p.ws]!.name}: ${r.e.code}: ${r.e.message} (${context()})`);
          }
        } else {
          rec.outcome = 'unclear';
          problem(`unclear error for ${p.id}: ${String((r.e as Error)?.stack ?? r.e).split('\n').slice(0, 3).join(' | ')}`);
        }
      } finally {
        clearTimeout(timer);
        inflight.delete(rec);
        settled++;
        if (settled % Math.max(1, Math.round(plan.length / 10)) === 0) log(`chaos: ${stamp()} ${settled} of ${plan.length} messages settled`);
      }
    };

    // Per workspace: a queue per session (one message in flight each), and at most `concurrency` sessions busy.
    const perWorkspace = wss.map(async (_w, wi) => {
      const queues = sessions[wi]!.map((_, si) => plan.filter((p) => p.ws === wi && p.session === si));
      let free = concurrency;
      const waiters: Array<() => void> = [];
      const acquire = async () => {
        if (free > 0) { free--; return; }
        await new Promise<void>((r) => waiters.push(r));
      };
      const release = () => { const next = waiters.shift(); if (next) next(); else free++; };
      await Promise.all(queues.map(async (q, si) => {
        for (const p of q) {
          await acquire();
          try { await sendOne(p, sessions[wi]![si]!); } finally { release(); }
        }
      }));
    });
    await Promise.all(perWorkspace);
    messagePhaseMs = performance.now() - phaseStart;
    done = true;
    await scheduler;
    await Promise.all(faultChains);
    log(`chaos: ${stamp()} all ${records.length} messages settled; faults healed`);

    // Every workspace healthy again before reading histories.
    await waitFor('every link up after the faults', () => b.status().workspaces.every((w) => w.tunnel.state === 'up'), { timeoutMs: 60_000, intervalMs: 50 });

    // ---- history: lost and duplicated ----
    let lost = 0;
    let duplicated = 0;
    const byKey = new Map<string, Record_[]>();
    for (const r of records) {
      const k = `${r.plan.ws}/${r.plan.session}`;
      byKey.set(k, [...(byKey.get(k) ?? []), r]);
    }
    await Promise.all(wss.map(async (w, wi) => {
      // Workspaces side by side, each one's sessions one after another: every export is
      // an opencode start of its own, and nine at once took one past a minute at load 14.
      const histories: Array<Awaited<ReturnType<typeof historyOf>>> = [];
      for (const s of sessions[wi]!) histories.push(await historyOf(w, s.id));
      for (const [si, s] of sessions[wi]!.entries()) {
        const history = histories[si]!;
        const counts = new Map<string, number>();
        for (const m of history) {
          if (!m.text) continue;
          const k = `${m.role}\0${m.text}`;
          counts.set(k, (counts.get(k) ?? 0) + 1);
        }
        for (const [k, n] of counts) {
          if (n <= 1) continue;
          duplicated += n - 1;
          problem(`duplicated ${n}x in ${w.name} ${s.id}: ${JSON.stringify(k.replace('\0', ': ').slice(0, 120))}`);
        }
        for (const r of byKey.get(`${wi}/${si}`) ?? []) {
          const userCount = counts.get(`user\0${r.plan.prompt}`) ?? 0;
          if (r.outcome === 'ok' && (userCount === 0 || !counts.has(`assistant\0${r.reply}`))) {
            lost++;
            problem(`lost: ${r.plan.id} got a reply but the ${userCount === 0 ? 'message' : 'reply'} is not in ${s.id}'s history (faults: ${[...r.faults].join(',') || 'none'})`);
          }
        }
      }
    }));

    // ---- leaks: close, then nothing of warren may remain ----
    await b.close({ stopServers: true });
    broker = undefined;
    global.gc?.();
    const leakLines: string[] = [];
    await waitFor('handles and fds back to the baseline', () => above(handleCounts(), baseHandles).length === 0 && fdCount() <= baseFds, { timeoutMs: 10_000 })
      .catch(() => {
        const extra = above(handleCounts(), baseHandles);
        if (extra.length) leakLines.push(`handles above the baseline: ${extra.join(', ')}`);
        if (fdCount() > baseFds) leakLines.push(`open fds ${baseFds} -> ${fdCount()}`);
      });
    for (const w of wss) {
      await waitFor(`no process of ${w.user} left`, async () => (await userPids(w)).length === 0, { timeoutMs: 15_000 })
        .catch(async () => leakLines.push(`processes of ${w.user} (${w.name}) after close: ${(await userPids(w)).join('; ')}`));
    }
    await Promise.all(wss.map((w) => w.close()));
    tornDown = true;
    for (const w of wss) {
      const left = w.leftovers();
      if (left.length) leakLines.push(`${w.name} leftovers after teardown: ${left.join(', ')}`);
    }
    leaked = leakLines.length;
    for (const l of leakLines) problem(`leak: ${l}`);

    const outcomes = emptyOutcomes();
    const errorsByCode: Record<string, number> = {};
    const errorsByCause: Record<string, number> = {};
    const byFault: Record<string, Outcomes> = {};
    const directiveCounts: Record<Directive, number> = { 'model-slow': 0, 'model-error': 0, 'model-hang': 0 };
    for (const r of records) {
      outcomes[r.outcome]++;
      if (r.code) errorsByCode[r.code] = (errorsByCode[r.code] ?? 0) + 1;
      if (r.code) {
        const k = `${r.code.replace('WARREN_ERR_', '')} <- ${r.cause ?? 'nothing: a bug'}`;
        errorsByCause[k] = (errorsByCause[k] ?? 0) + 1;
      }
      if (r.plan.directive) directiveCounts[r.plan.directive]++;
      for (const f of r.faults.size ? r.faults : new Set(['none'])) {
        byFault[f] ??= emptyOutcomes();
        byFault[f]![r.outcome]++;
      }
      // Messages whose every fault was one that heals: they must all be ok.
      if (r.faults.size && [...r.faults].every((f) => TRANSPORT_FAULTS.includes(f))) {
        byFault['transport only'] ??= emptyOutcomes();
        byFault['transport only']![r.outcome]++;
      }
    }
    return {
      seed: opts.seed, messages: records.length, workspaces: wss.length, sessions: sessionsPer,
      durationMs: performance.now() - t0, outcomes, errorsByCode, errorsByCause, injectFailures, faults: faultCounts, directives: directiveCounts,
      byFault, lost, duplicated, leaked, problems, rate: records.length / (messagePhaseMs / 1000),
    };
  } finally {
    await broker?.close({ stopServers: true }).catch(() => {});
    if (!tornDown) {
        // Heal whatever a failure left on (a frozen workspace would make teardown slow), then tear down.
      await Promise.all(wss.map(async (w) => {
        await w.thaw().catch(() => {});
        await run(['ip', 'link', 'set', slotNames(w.slot).vethHost, 'up']).catch(() => {});
        await w.close();
      }));
    }
  }
}

/** The session's messages as (role, text), read with the CLI inside the workspace, as a user would. */
/** For a hang, not for speed: an export is an opencode start, seconds of CPU on a loaded machine. */
const EXPORT_DEADLINE_MS = 180_000;

async function historyOf(ws: Workspace, id: string): Promise<Array<{ role: string; text: string }>> {
  const r = await ws.runAsUser(['opencode', 'export', id], { timeoutMs: EXPORT_DEADLINE_MS });
  if (r.code !== 0) throw new Error(`opencode export ${id} in ${ws.name} failed: ${r.stderr.slice(-300)}`);
  const data = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { messages: Array<{ info: { role: string }; parts: Array<{ type: string; text?: string }> }> };
  return data.messages.map((m) => ({ role: m.info.role, text: m.parts.filter((p) => p.type === 'text').map((p) => p.text ?? '').join('') }));
}

/** A run passes when no counted bug happened. */
export function chaosPassed(r: ChaosResult): boolean {
  return r.lost === 0 && r.duplicated === 0 && r.outcomes.hung === 0 && r.leaked === 0 && r.outcomes.unclear === 0 && r.outcomes.wrong === 0
    && r.outcomes.unexplained === 0 && r.injectFailures === 0;
}

export function formatChaos(r: ChaosResult): string {
  const o = r.outcomes;
  const row = (k: string, x: Outcomes) => `  ${k.padEnd(14)} ok ${x.ok}, explained error ${x.error}, unexplained ${x.unexplained}, hung ${x.hung}, unclear ${x.unclear}, wrong ${x.wrong}`;
  const lines = [
    `seed ${r.seed}: ${r.messages} messages on ${r.workspaces} workspaces (${r.sessions} sessions each) in ${(r.durationMs / 1000).toFixed(1)} s, ${r.rate.toFixed(1)} messages/s under faults`,
    `outcomes: ok ${o.ok}, explained error ${o.error}, unexplained error ${o.unexplained}, hung ${o.hung}, unclear error ${o.unclear}, wrong reply ${o.wrong}`,
    `errors by cause: ${Object.entries(r.errorsByCause).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `faults injected: ${Object.entries(r.faults).map(([k, v]) => `${k} ${v}`).join(', ')}; directives: ${Object.entries(r.directives).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    'messages by what they went through (one message may count under several):',
    ...Object.entries(r.byFault).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => row(k, v)),
    `lost ${r.lost}, duplicated ${r.duplicated}, hung ${o.hung}, leaked ${r.leaked}, unexplained ${o.unexplained}, unclear ${o.unclear}, wrong ${o.wrong}, faults not injected ${r.injectFailures}: ${chaosPassed(r) ? 'PASS' : 'FAIL'}`,
    ...r.problems.map((p) => `  ${p}`),
  ];
  return lines.join('\n');
}
