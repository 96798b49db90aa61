// `warren -L` for the link benchmark: the library's link and its ssh -L-style local
// forward (src/ssh/local-forward.ts) in a process of their own, as `ssh -L` is. It
// copies bytes and parses no HTTP, so it is the floor of any pass-through written on
// ssh2 in Node: what the gateway's HTTP hop costs is the rest.
// usage: node forward-main.js HOST PORT USER KEY FINGERPRINT TARGET_PORT; prints the local port.
import { Link } from '../src/ssh/link.js';
import { startLocalForward } from '../src/ssh/local-forward.js';

const [host, port, user, key, fingerprint, targetPort] = process.argv.slice(2);
const link = new Link({ name: 'bench-forward', user: user!, transport: { kind: 'tcp', host: host!, port: Number(port) }, privateKeyPath: key!, hostKeyFingerprints: [fingerprint!] });
link.start();
await link.waitForUp(10_000);
const fwd = await startLocalForward(link, { host: '127.0.0.1', port: Number(targetPort) });
process.stdout.write(`${fwd.port}\n`);
process.once('SIGTERM', () => {
  void fwd.close().then(() => link.close()).then(() => process.exit(0));
});
