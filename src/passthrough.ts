/**
 * Hands a command to the user's npm with the same argv, stdio and exit code. npm is loaded into
 * this very process rather than spawned: no second Node.js start-up, and npm's own exit handling
 * (exit codes, signals, its debug log) stays exactly npm's.
 */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import type { NpmLocation } from './npm-location.ts'

const require = createRequire(import.meta.url)

/** Runs npm's CLI in-process with `argv` (without node and script). npm owns the process from here. */
export function handToNpm (npm: NpmLocation, argv: readonly string[]): void {
  process.argv = [process.execPath, npm.cli, ...argv]
  require(npm.cli)
}

/**
 * Runs the user's npm as a child with `argv` and the terminal (a command of ours that lets npm do
 * the work and adds to it afterwards); resolves to npm's exit code. Ctrl-C reaches npm too: we
 * wait for it to end as it ends. `stderr`, when given, rewrites what npm writes there line by
 * line (e.g. the shim's loopback URL back into the registry's) at the cost of npm seeing no TTY there.
 */
export function runUserNpm (npm: NpmLocation, argv: readonly string[], init: { nodeArgs?: string[], env?: NodeJS.ProcessEnv, stderr?: (line: string) => string } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...init.nodeArgs ?? [], npm.cli, ...argv], {
      stdio: ['inherit', 'inherit', init.stderr === undefined ? 'inherit' : 'pipe'],
      env: init.env ?? process.env,
    })
    const rewrite = init.stderr
    const flushed = new Promise<void>((done) => {
      if (rewrite === undefined || child.stderr === null) return done()
      // node:readline loaded here, not with every start (npm's commands handed over never use it)
      const { createInterface } = require('node:readline') as typeof import('node:readline')
      const lines = createInterface({ input: child.stderr, crlfDelay: Infinity })
      lines.on('line', (line) => process.stderr.write(`${rewrite(line)}\n`))
      lines.on('close', done)
    })
    const ignore = (): void => {}
    process.on('SIGINT', ignore)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore)
      void flushed.then(() => resolve(code ?? (signal === 'SIGINT' ? 130 : 1)))
    })
  })
}
