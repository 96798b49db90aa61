// Outlives one process that made workspaces and, once that process is gone,
// removes what it left (only slots whose owner is dead; see teardown.ts). Polls,
// since a process that is not our child cannot be waited for.
import { pidAlive } from './slots.js';
import { sweepStale } from './teardown.js';

const owner = Number(process.argv[2]);
if (!Number.isInteger(owner) || owner <= 1) process.exit(2);
const timer = setInterval(() => {
  if (pidAlive(owner)) return;
  clearInterval(timer);
  sweepStale();
}, 250);
