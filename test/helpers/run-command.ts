/**
 * Runs a command (npm, ipfs-npm) as a child process with a clean environment and captures its
 * output, for tests that compare what users would see.
 */
import { spawn, type ChildProcess } from 'node:child_process'

/** What a finished command left behind. */
export interface CommandResult {
  /** Exit code; a signal death counts as 128 + its number, as a shell reports it. */
  code: number
  stdout: string
  stderr: string
  /** Wall time in ms. */
  ms: number
}

export interface RunOptions {
  cwd: string
  /** Added to the clean environment. */
  env?: Record<string, string>
  /** Killed (SIGKILL) after this many ms; default 120 s, so a hang fails the test instead of the suite. */
  timeoutMs?: number
  /** Called with the child once spawned (to signal it). */
  onSpawn?: (child: ChildProcess) => void
}

/**
 * The test process's environment without what would leak config into a child npm: every
 * `npm_*` variable (set when tests run under `npm test`, they carry the caller's config) and the
 * test runner's own context.
 */
export function cleanEnv (extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^npm_/i.test(key) || key === 'NODE_TEST_CONTEXT' || key === 'INIT_CWD') continue
    env[key] = value
  }
  return { ...env, ...extra }
}

/** Runs `command args` without a shell, stdin closed, and resolves when it exits. */
export function runCommand (command: string, args: string[], options: RunOptions): Promise<CommandResult> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: cleanEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    options.onSpawn?.(child)
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => err.push(c))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
    child.on('error', err => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const signalCode = signal === null ? 0 : 128 + (signalNumbers[signal] ?? 0)
      resolve({
        code: code ?? signalCode,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Math.round(performance.now() - started),
      })
    })
  })
}

const signalNumbers: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }

/** Stops a child process: SIGTERM, then SIGKILL if it has not exited within 5 s. */
export async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}
