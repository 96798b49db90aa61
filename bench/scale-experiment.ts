// Not part of the suite: `node dist/bench/scale-experiment.js N ROUNDS HANDSHAKES...`
// stands up N test-bed workspaces and times N links coming up, each in a fresh
// process, ROUNDS times per handshake cap, interleaved, every round twice: as the
// machine is, and with two CPU burners (`sh -c 'while :; do :; done'`) beside it.
// It is how "all links up" was found to follow the machine's load, not the cap.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWorkspaces } from '../container/testbed/index.js';
import { measureLinksIsolated } from './scale-links.js';

const [n = 100, rounds = 3, ...caps] = process.argv.slice(2).map(Number);
const wss = await createWorkspaces(n, { fakeModel: false, namePrefix: 'scalex' });
let burners: ChildProcess[] = [];
const stopBurners = () => {
  for (const b of burners) b.kill('SIGKILL');
  burners = [];
};
try {
  const targets = wss.map((w) => ({ host: w.host, port: w.port, user: w.user, privateKeyPath: w.privateKeyPath, hostKeyFingerprint: w.hostKeyFingerprint }));
  for (let r = 0; r < rounds; r++) {
    for (const burn of [false, true]) {
      if (burn) burners = [0, 1].map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
      for (const h of caps.length ? caps : [8]) {
        const x = await measureLinksIsolated({ n, targets, handshakes: h, idleMs: 500 });
        process.stdout.write(`round ${r + 1} ${burn ? '2 burners' : 'as is    '} cap ${h}: up ${x.upMs.toFixed(0)} ms (p10 ${x.upAt.p10.toFixed(0)}, p50 ${x.upAt.p50.toFixed(0)}, p90 ${x.upAt.p90.toFixed(0)}), failed ${x.failedAttempts}, warren cpu ${x.upCpuMs.toFixed(0)} ms, load ${x.load}\n`);
      }
      stopBurners();
    }
  }
} finally {
  stopBurners();
  await Promise.all(wss.map((w) => w.close()));
}
