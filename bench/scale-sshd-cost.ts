// Not part of the suite: what one handshake costs each side. `node
// dist/bench/scale-sshd-cost.js N` brings N links up to N test-bed workspaces, one
// at a time, and reads the CPU of every sshd process in the workspaces' namespaces
// (the listener, which forks, and each connection's, which re-execs sshd) and of
// this process.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createWorkspaces, run } from '../container/testbed/index.js';
import { Link } from '../src/ssh/link.js';

const n = Number(process.argv[2] ?? 20);
const wss = await createWorkspaces(n, { fakeModel: false, namePrefix: 'scalec' });
const TICK = 1000 / 100;
const cpuOf = (pid: number) => {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').slice(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime: the exec'd children that exited count in their parent's c*.
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK;
  } catch { return 0; }
};
const sshdCpu = async () => {
  let sum = 0;
  for (const w of wss) {
    const pids = (await run(['ip', 'netns', 'pids', w.netns!])).stdout.split(/\s+/).filter(Boolean).map(Number);
    for (const p of pids) sum += cpuOf(p);
  }
  return sum;
};
const links: Link[] = [];
try {
  const s0 = await sshdCpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const w of wss) {
    const l = new Link({ name: w.name, user: w.user, transport: { kind: 'tcp', host: w.host, port: w.port }, privateKeyPath: w.privateKeyPath, hostKeyFingerprints: [w.hostKeyFingerprint] });
    links.push(l);
    l.start();
    await l.waitForUp(30_000);
  }
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const s1 = await sshdCpu();
  process.stdout.write(`${n} handshakes one at a time: ${(wall / n).toFixed(1)} ms each; sshd CPU ${((s1 - s0) / n).toFixed(1)} ms each; warren CPU ${((c.user + c.system) / 1000 / n).toFixed(1)} ms each\n`);
} finally {
  await Promise.all(links.map((l) => l.close()));
  await Promise.all(wss.map((w) => w.close()));
}
