/**
 * Hands a command to the user's npm with the same argv, stdio and exit code. npm is loaded into
 * this very process rather than spawned: no second Node.js start-up, and npm's own exit handling
 * (exit codes, signals, its debug log) stays exactly npm's.
 */
import { createRequire } from 'node:module'
import type { NpmLocation } from './npm-location.ts'

/** Runs npm's CLI in-process with `argv` (without node and script). npm owns the process from here. */
export function handToNpm (npm: NpmLocation, argv: readonly string[]): void {
  process.argv = [process.execPath, npm.cli, ...argv]
  createRequire(import.meta.url)(npm.cli)
}
