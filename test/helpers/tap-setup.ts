// Loaded into every test process (package.json, tap's node-arg, after tap's own
// imports). tap's @tapjs/processinfo follows every descendant for coverage: it puts
// `--import=@tapjs/processinfo` into the NODE_OPTIONS of each child it sees spawned
// (through process-on-spawn's hook). On Node 20 that import runs an off-thread module
// loader, so every node a test starts (the warren CLI, the daemon, OpenCode's SDK
// clients) paid ~0.6 s of CPU more per start (`warren --help`: 1.17 s of CPU under
// tap, 0.52 s without), making the suite slower and the machine busier for the tests
// that wait on things. Coverage is off here, so the descendants need none of it:
// the hook's listeners go (process-on-spawn keeps them in a documented global
// singleton) and so does the variable.
type SpawnHooks = { listeners?: unknown[] };
const hooks = (globalThis as Record<symbol, SpawnHooks | undefined>)[Symbol.for('process-on-spawn@*:singletonId')];
if (hooks?.listeners) hooks.listeners.length = 0;
delete process.env.NODE_OPTIONS;
export {};
