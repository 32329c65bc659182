/**
 * Shared set-up for the reliability suite: projects copied from the fixtures, user configs that
 * point at the hermetic registries, ipfs-npm and npm runs with their wall time, cacache checks,
 * and the fault → outcome lines each test prints (collected into the note's table).
 */
import { cp, mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import cacache from 'cacache'
import { fixtureProjectsDir, ipfsNpmBin } from '../helpers/conformance.ts'
import type { FixtureRegistries } from '../helpers/fixture-registries.ts'
import { runCommand, type CommandResult } from '../helpers/run-command.ts'
import { tempDir } from '../helpers/temp-dir.ts'

export { ipfsNpmBin }

/** A temp root removed by `cleanup()`. */
export interface Workspace {
  root: string
  /** A fresh copy of a fixture project (or any folder) under the root. */
  project(name: string, from?: string): Promise<string>
  cleanup(): Promise<void>
}

export async function createWorkspace (prefix: string): Promise<Workspace> {
  const root = await tempDir(prefix)
  let n = 0
  return {
    root,
    async project (name, from) {
      const dir = join(root, `p${n++}`, name)
      await mkdir(dir, { recursive: true })
      await cp(from ?? join(fixtureProjectsDir, name), dir, { recursive: true, verbatimSymlinks: true })
      return dir
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  }
}

/** `node bin/ipfs-npm.js args` (no mDNS: tests never look at the LAN). */
export function ipfsNpm (args: string[], cwd: string, options: { timeoutMs?: number, env?: Record<string, string> } = {}): Promise<CommandResult> {
  return runCommand(process.execPath, [ipfsNpmBin, ...args, '--no-mdns'], { cwd, timeoutMs: options.timeoutMs ?? 60_000, env: options.env })
}

/** The real npm with the same arguments. */
export function npm (args: string[], cwd: string, options: { timeoutMs?: number } = {}): Promise<CommandResult> {
  return runCommand('npm', args, { cwd, timeoutMs: options.timeoutMs ?? 60_000 })
}

/** Writes a user config for `registries` with fast, bounded retries so a fault costs seconds. */
export async function fastUserconfig (registries: FixtureRegistries, dir: string, extra: string[] = []): Promise<string> {
  const file = join(dir, `npmrc-${Math.random().toString(36).slice(2)}`)
  await registries.writeUserconfig(file, [
    'fetch-retries=1',
    'fetch-retry-mintimeout=200',
    'fetch-retry-maxtimeout=200',
    'fetch-timeout=1500',
    'omit-lockfile-registry-resolved=true',
    ...extra,
  ])
  return file
}

/** `cacache.verify` of an npm cache: throws when it found corrupt or missing content. */
export async function verifyCache (cacheDir: string): Promise<{ verifiedContent: number, badContentCount: number, missingContent: number }> {
  const stats = await cacache.verify(join(cacheDir, '_cacache')) as { verifiedContent: number, badContentCount: number, missingContent: number }
  return stats
}

/** The `npm error code X` of a run, if any. */
export function errorCode (run: CommandResult): string | undefined {
  return /npm error code (\S+)/.exec(run.stderr)?.[1]
}

/** Every line of a run's stderr that looks like a JavaScript stack frame. */
export function stackLines (run: CommandResult): string[] {
  return `${run.stdout}\n${run.stderr}`.split('\n').filter((line) => /^\s*at .+[:(]\d+/.test(line) || /^\s+at (async )?\S+ \(/.test(line))
}

/** Prints one row of the fault → test → outcome table. */
export function report (fault: string, outcome: string): void {
  process.stdout.write(`# RELIABILITY | ${fault} | ${outcome}\n`)
}
