// The platform's time as this screen sees it. On a normal server that is the browser's clock; a
// sandbox server (drills, `zhihui sim run` at ×60) runs a simulated clock, which the screen follows
// by reading /health every few seconds and running on between reads at the rate it last saw, so
// the header clock, waiting times and countdowns read in simulated time.
let sample = null; // { server, wall, rate } in ms; null = the browser's clock
const clockListeners = new Set();
const SYNC_MS = 2000;

export function platformNow() {
  if (!sample) return Date.now();
  // Run on at the last rate only until the next read is due: a clock that moved in one burst and
  // stopped is not extrapolated for ever.
  return sample.server + Math.min(Date.now() - sample.wall, SYNC_MS) * sample.rate;
}

export function isSandbox() {
  return sample !== null;
}

export function onSandbox(fn) {
  clockListeners.add(fn);
  return () => clockListeners.delete(fn);
}

async function syncClock() {
  let health;
  try {
    const r = await fetch("/api/v1/health", { cache: "no-store" });
    if (!r.ok) return true;
    health = await r.json();
  } catch {
    return true; // offline for a moment: keep running on the last rate
  }
  if (!health.sandbox) {
    const was = sample;
    sample = null;
    if (was) clockListeners.forEach((fn) => fn(false));
    return false;
  }
  const server = Date.parse(health.now);
  const wall = Date.now();
  const first = sample === null;
  // The simulated clock moves in steps; the rate between two reads is what it averages.
  const rate = first ? 0 : Math.min(Math.max((server - sample.server) / Math.max(wall - sample.wall, 1), 0), 1e4);
  // Each read resets the screen to the server's time (a small step back if the simulator slowed).
  sample = { server, wall, rate };
  if (first) clockListeners.forEach((fn) => fn(true));
  return true;
}

let started = false;
export function followPlatformClock() {
  if (started) return;
  started = true;
  const loop = async () => {
    const sandbox = await syncClock();
    setTimeout(loop, sandbox ? SYNC_MS : 60_000);
  };
  loop();
}
