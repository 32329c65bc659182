// The little of proc-log's shape we use (it ships no types).
declare module 'proc-log' {
  type LogFn = (...args: unknown[]) => void
  const procLog: {
    log: Record<'error' | 'warn' | 'notice' | 'http' | 'info' | 'verbose' | 'silly', LogFn>
    output: Record<'standard' | 'error', LogFn>
  }
  export default procLog
}
