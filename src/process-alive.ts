/**
 * Whether process `pid` still runs on this machine (signal 0 checks without signalling; EPERM
 * means it runs as another user): how the pid-stamped leftovers of a killed run — a peer-key lock,
 * an old tree set aside — are told from those of a run still going.
 */
export function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
