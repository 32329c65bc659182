/**
 * Long-lived helper processes of the bench (mirror, delay line, `ipfs-npm serve`): started,
 * awaited until they print that they are ready, and stopped by their own pid.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { cleanEnv, stopChild } from '../../test/helpers/run-command.ts'

export interface Service {
  /** The first match of `ready` in the output. */
  match: RegExpMatchArray
  child: ChildProcess
  /** Everything printed so far (for error reports). */
  output(): string
  stop(): Promise<void>
}

export interface ServiceInit {
  command: string
  args: string[]
  cwd?: string
  env?: Record<string, string>
  /** Printed (stdout or stderr) once the service is ready. */
  ready: RegExp
  timeoutMs?: number
}

/** Starts a service and resolves once it printed `ready`; rejects with its output if it exits or stalls. */
export function startService (init: ServiceInit): Promise<Service> {
  const child = spawn(init.command, init.args, { cwd: init.cwd, env: cleanEnv(init.env), stdio: ['ignore', 'pipe', 'pipe'] })
  let text = ''
  const stop = (): Promise<void> => stopChild(child)
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer)
      void stop()
      reject(new Error(`${init.command} ${init.args.join(' ')}: ${why}\n${text.slice(-2000)}`))
    }
    const timer = setTimeout(() => fail('not ready in time'), init.timeoutMs ?? 30_000)
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8')
      const match = init.ready.exec(text)
      if (match !== null && timer.hasRef()) {
        clearTimeout(timer)
        timer.unref()
        resolve({ match, child, output: () => text, stop })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('exit', (code, signal) => { if (timer.hasRef()) fail(`exited (${code ?? signal}) before it was ready`) })
    child.on('error', (err) => fail(err.message))
  })
}
