/** Resolves on the first SIGINT or SIGTERM: how long-lived commands (serve, publish --seed) wait. */
export function untilStopped (): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
