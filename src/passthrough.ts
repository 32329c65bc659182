/**
 * Hands a command to the user's npm with the same argv, stdio and exit code. npm is loaded into
 * this very process rather than spawned: no second Node.js start-up, and npm's own exit handling
 * (exit codes, signals, its debug log) stays exactly npm's.
 */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import type { NpmLocation } from './npm-location.ts'

/** Runs npm's CLI in-process with `argv` (without node and script). npm owns the process from here. */
export function handToNpm (npm: NpmLocation, argv: readonly string[]): void {
  process.argv = [process.execPath, npm.cli, ...argv]
  createRequire(import.meta.url)(npm.cli)
}

/**
 * Runs the user's npm as a child with `argv` and the terminal (a command of ours that lets npm do
 * the work and adds to it afterwards); resolves to npm's exit code. Ctrl-C reaches npm too: we
 * wait for it to end as it ends.
 */
export function runUserNpm (npm: NpmLocation, argv: readonly string[], init: { nodeArgs?: string[], env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...init.nodeArgs ?? [], npm.cli, ...argv], { stdio: 'inherit', env: init.env ?? process.env })
    const ignore = (): void => {}
    process.on('SIGINT', ignore)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore)
      resolve(code ?? (signal === 'SIGINT' ? 130 : 1))
    })
  })
}
