// A stand-in for systemd's notify socket: a unix datagram socket the test owns, read by
// a few lines of Perl (perl-base is Essential on Debian, and Node has no unix datagram
// sockets). It reads without a control buffer, so the kernel closes the fd of a
// BARRIER=1 message and systemd-notify's barrier completes, as with systemd itself.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { waitFor } from '../../container/testbed/index.js';

interface Teardown { teardown(fn: () => unknown): void }

const RECEIVER = String.raw`
use strict; use Socket;
my $path = shift;
socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
my $addr = $path =~ /^@(.*)/s ? "\0$1" : $path;
bind($s, pack_sockaddr_un($addr)) or die "bind: $!";
$| = 1; print "listening\n";
while (1) { my $buf; defined(recv($s, $buf, 65536, 0)) or die "recv: $!"; $buf =~ s/\n/ /g; print "$buf\n"; }
`;

export interface NotifyReceiver {
  /** Each message received, its lines joined with spaces ("READY=1 STATUS=…"). */
  messages: string[];
  /** Called with each message as it arrives. */
  onMessage?: (m: string) => void;
}

/** Why the readiness tests cannot run here, or null when they can. */
export function notifyUnavailable(): string | null {
  if (spawnSync('perl', ['-MSocket', '-e', '1']).status !== 0) return 'perl with Socket (perl-base) is not installed';
  if (spawnSync('systemd-notify', ['--help'], { stdio: 'ignore' }).error) return 'systemd-notify (package systemd) is not installed';
  return null;
}

/** Listens on `address` (a path, or '@name' for an abstract socket) until the test ends. */
export async function notifyReceiver(t: Teardown, address: string): Promise<NotifyReceiver> {
  const child: ChildProcess = spawn('perl', ['-e', RECEIVER, address], { stdio: ['ignore', 'pipe', 'pipe'] });
  const r: NotifyReceiver = { messages: [] };
  let listening = false;
  let err = '';
  let buf = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line === 'listening') listening = true;
      else if (line) { r.messages.push(line); r.onMessage?.(line); }
    }
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  t.teardown(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  await waitFor('the notify receiver to listen', () => {
    if (child.exitCode !== null) throw new Error(`notify receiver exited: ${err}`);
    return listening;
  }, { timeoutMs: 10_000 });
  return r;
}
