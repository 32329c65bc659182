/**
 * Ctrl-C (and SIGTERM) during a command of ours, answered as npm answers it: `npm error process
 * terminated`, `npm error signal SIGINT`, exit code 1. During reify Arborist catches the signal
 * itself, rolls the tree back and throws that error, which the command reports; before reify (the
 * plan and the fetch phase, which npm does inside reify) nothing on disk needs rolling back — the
 * cache's writes are atomic — so the run ends at once with the same error. A second signal ends
 * the process by that signal, as it does npm.
 */
import { terminatedError } from './errors.ts'

const SIGNALS = ['SIGINT', 'SIGTERM'] as const

/**
 * Listens for the signals until the returned function is called. Our listener stays registered
 * while Arborist's runs, so Arborist does not re-raise the signal on exit and the exit code stays npm's.
 *
 * @param end reports the error and exits; called at most once, only outside Arborist's reify
 */
export function onTermination (end: (err: Error) => void): () => void {
  let received = false
  const listeners = SIGNALS.map((signal) => {
    const listener = (): void => {
      if (received) {
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
  return dispose
}
