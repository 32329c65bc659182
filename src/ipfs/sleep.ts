/** Resolves after `ms`, or as soon as `signal` aborts (never rejects, leaves no timer behind). */
export async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
    function done (): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
  })
}

/** Resolves when `promise` settles or `signal` aborts, whichever comes first (never rejects). */
export async function untilAborted (promise: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  let done = (): void => {}
  await Promise.race([promise.catch(() => {}), new Promise<void>((resolve) => {
    done = resolve
    signal.addEventListener('abort', done, { once: true })
  })])
  signal.removeEventListener('abort', done)
}
