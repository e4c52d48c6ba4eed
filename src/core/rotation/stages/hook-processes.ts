// The deploy hooks, smoke tests and health checks running right now, each in its own process
// group, so that stopping one stops what it started too (`sh -c 'npm run deploy'` and its
// children). A Ctrl-C on the terminal reaches only Rotor's own process group: the CLI calls
// stopHookProcesses() so no hook is left running as an orphan.

const running = new Set<number>();
let stopping = false;

/**
 * True once stopHookProcesses() has begun: the process is about to exit, and a hook that ends
 * now (because it was stopped) must not be taken as a failed step, or the engine would roll back
 * and leave a journal other than the one the interrupt message describes.
 */
export function hookProcessesStopping(): boolean {
  return stopping;
}

/** Records a hook child (spawned with `detached: true`, so its pid is its process group id). */
export function trackHookProcess(pid: number | undefined): () => void {
  if (pid === undefined) return () => undefined;
  running.add(pid);
  return () => running.delete(pid);
}

/** Sends `signal` to a hook's whole process group; false when the group is gone. */
export function signalHookGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

function groupAlive(pid: number): boolean {
  return signalHookGroup(pid, 0 as unknown as NodeJS.Signals);
}

/**
 * Stops every running hook's process group: SIGTERM, then SIGKILL for groups still there after
 * `graceMs`. Resolves with the number of groups that were running.
 */
export async function stopHookProcesses(graceMs = 2000): Promise<number> {
  stopping = true;
  const groups = [...running];
  for (const pid of groups) signalHookGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (groups.some(groupAlive) && Date.now() < deadline) {
    await new Promise((wake) => setTimeout(wake, 50));
  }
  for (const pid of groups) if (groupAlive(pid)) signalHookGroup(pid, 'SIGKILL');
  return groups.length;
}
