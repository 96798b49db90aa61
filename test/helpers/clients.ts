// OpenCode's own clients on the host (the pinned `opencode` binary the test bed
// installed), each test's in a home of its own, so nothing of theirs lands in the
// machine's HOME and nothing of the machine's reaches them. Also the TUI under
// tmux: a real terminal to type into and read from.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { opencodeBinary, run, runOk, waitFor } from '../../container/testbed/index.js';
import { quoteCommand } from '../../src/ssh/quote.js';

interface Teardown { teardown(fn: () => unknown): void }

export interface HostClient {
  bin: string;
  /** A directory holding `opencode` only, to put first on PATH. */
  binDir: string;
  env: NodeJS.ProcessEnv;
  home: string;
}

export async function hostClient(t: Teardown): Promise<HostClient> {
  const bin = await opencodeBinary();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-client-'));
  t.teardown(() => fs.rmSync(home, { recursive: true, force: true }));
  const binDir = path.join(home, 'bin');
  fs.mkdirSync(binDir);
  fs.symlinkSync(bin, path.join(binDir, 'opencode'));
  const env: NodeJS.ProcessEnv = {
    PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: home, TERM: 'xterm-256color', LANG: 'C.UTF-8',
    XDG_DATA_HOME: path.join(home, 'data'), XDG_CONFIG_HOME: path.join(home, 'config'), XDG_STATE_HOME: path.join(home, 'state'), XDG_CACHE_HOME: path.join(home, 'cache'),
    OPENCODE_DISABLE_MODELS_FETCH: '1', OPENCODE_DISABLE_AUTOUPDATE: '1',
  };
  return { bin, binDir, env, home };
}

/** Every process's command line on this machine, to look for what must not be there. */
export function everyArgv(): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.push(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export interface Pane {
  screen(): Promise<string>;
  type(text: string): Promise<void>;
  /** Waits until the screen shows `re`, and returns the screen. */
  waitFor(what: string, re: RegExp, timeoutMs?: number): Promise<string>;
  /** The pid of the pane's first process. */
  pid(): Promise<number>;
}

/** Runs argv in a fresh tmux session of 120x40 with env; killed at teardown. */
export async function tmuxPane(t: Teardown, name: string, argv: string[], env: NodeJS.ProcessEnv): Promise<Pane> {
  const vars = Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  await runOk(['tmux', 'new-session', '-d', '-s', name, '-x', '120', '-y', '40', `${quoteCommand(['env', '-i', ...vars, ...argv])}; echo "EXIT:$?"; sleep 600`]);
  t.teardown(() => run(['tmux', 'kill-session', '-t', name]));
  const screen = async () => (await run(['tmux', 'capture-pane', '-p', '-t', name])).stdout;
  return {
    screen,
    type: async (text) => {
      await runOk(['tmux', 'send-keys', '-t', name, '-l', text]);
      await runOk(['tmux', 'send-keys', '-t', name, 'Enter']);
    },
    waitFor: async (what, re, timeoutMs = 30_000) => {
      let last = '';
      try {
        return await waitFor(what, async () => {
          last = await screen();
          return re.test(last) ? last : undefined;
        }, { timeoutMs });
      } catch (err) {
        // What the person would have seen says more than the timeout.
        throw new Error(`${(err as Error).message}; the screen:\n${last.split('\n').filter((l) => l.trim()).join('\n')}`);
      }
    },
    pid: async () => Number((await runOk(['tmux', 'display-message', '-p', '-t', name, '#{pane_pid}'])).stdout.trim()),
  };
}
