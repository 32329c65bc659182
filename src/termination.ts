/**
 * Ctrl-C (and SIGTERM) during a command of ours, answered as npm answers it. While the plan is
 * made npm has no handler, so the process dies by the signal, silently (a shell says 130). From
 * the moment npm's reify would start touching the disk (our fetch phase, which npm does inside
 * reify) it is `npm error process terminated`, `npm error signal SIGINT`, exit code 1: during
 * Arborist's reify Arborist catches the signal itself, rolls the tree back and throws that error,
 * which the command reports; in our fetch phase nothing on disk needs rolling back — the cache's
 * writes are atomic — so the run ends at once with the same error. A second signal ends the
 * process by that signal, as it does npm.
 */
import { terminatedError } from './errors.ts'

const SIGNALS = ['SIGINT', 'SIGTERM'] as const

export interface Termination {
  /** From now on a signal is npm's reify's: reported as an error, not a silent death. */
  reifying(): void
  /** Stops listening. */
  dispose(): void
}

/**
 * Listens for the signals until `dispose`. Our listener stays registered while Arborist's runs,
 * so Arborist does not re-raise the signal on exit and the exit code stays npm's.
 *
 * @param end reports the error and exits; called at most once, only after `reifying` and outside Arborist's reify
 */
export function onTermination (end: (err: Error) => void): Termination {
  let received = false
  let reifying = false
  const listeners = SIGNALS.map((signal) => {
    const listener = (): void => {
      if (received || !reifying) {
        dispose()
        process.kill(process.pid, signal)
        return
      }
      received = true
      // another listener is Arborist's reify: its rollback, then its error, is npm's answer
      if (process.listenerCount(signal) > 1) return
      end(terminatedError(signal))
    }
    process.on(signal, listener)
    return [signal, listener] as const
  })
  const dispose = (): void => {
    for (const [signal, listener] of listeners) process.off(signal, listener)
  }
  return { reifying: () => { reifying = true }, dispose }
}
