/**
 * Real ipfs-npm nodes for end-to-end peer tests: `ipfs-npm serve` seeders (optionally inside a
 * network namespace), fixture project copies, npm's reference installs, and tree comparison.
 */
import assert from 'node:assert/strict'
import { cp, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fixtureProjectsDir, ipfsNpmBin } from './conformance.ts'
import type { FixtureRegistries } from './fixture-registries.ts'
import { runCommand, type CommandResult } from './run-command.ts'
import { startServe, type ServeProcess } from './serve.ts'
import { diffTrees, snapshotTree } from './tree-snapshot.ts'

/** A seeder is a serve process (test/helpers/serve.ts), named for its part in peer tests. */
export type Seeder = ServeProcess

export interface P2pWork {
  /** Copies fixture project `name` to `<work>/<as>`. */
  project(name: string, as: string): Promise<string>
  /** npm's own `ci` of project `name` (after `prepare` edits it) on `cache`: the reference tree. */
  npmReference(name: string, cache: string, variant: string, prepare?: (dir: string) => Promise<void>): Promise<string>
  /** Starts `ipfs-npm serve` on `cache`; `wrapper` runs it (e.g. `ip netns exec NS`). */
  serve(cache: string, init?: { wrapper?: string[], listen?: string, mdns?: boolean, addressPrefix?: string, extra?: string[], cwd?: string, env?: Record<string, string> }): Promise<ServeProcess>
  /** Runs ipfs-npm in `cwd`, optionally through `wrapper`. */
  ipfsNpm(cwd: string, args: string[], wrapper?: string[]): Promise<CommandResult>
  /** Stops every seeder. */
  stop(): Promise<void>
}

/**
 * A user config whose registries (the default, and each of `scopes`) are all dead and not retried:
 * whatever an install with it gets came from peers.
 */
export async function writeDeadUserconfig (file: string, scopes: string[] = []): Promise<void> {
  const dead = 'http://127.0.0.1:9/'
  await writeFile(file, [`registry=${dead}`, ...scopes.map((scope) => `${scope}:registry=${dead}`), 'fetch-retries=0', 'audit=false', 'fund=false', 'update-notifier=false', ''].join('\n'))
}

export function assertOk (run: CommandResult, what: string): void {
  assert.equal(run.code, 0, `${what} failed:\n${run.stdout}\n${run.stderr}`)
}

/** node_modules, lockfiles and package.json of two installs are identical, file by file. */
export async function assertSameTree (npmDir: string, ours: string): Promise<void> {
  const [a, b] = await Promise.all([snapshotTree(npmDir), snapshotTree(ours)])
  assert.deepEqual(diffTrees(a, b, ['npm', 'ipfs-npm']), [])
}

/** Rewrites one lock entry's integrity to the sha1 form old lockfiles carry. */
export async function sha1Only (registries: FixtureRegistries, dir: string, name: string): Promise<void> {
  const path = join(dir, 'package-lock.json')
  const lock = JSON.parse(await readFile(path, 'utf8')) as { packages: Record<string, { version: string, integrity?: string }> }
  const entry = lock.packages[`node_modules/${name}`]
  const packed = registries.main.packages.get(`${name}@${entry.version}`)
  assert.ok(packed, `${name} is a fixture package`)
  entry.integrity = `sha1-${Buffer.from(packed.shasum, 'hex').toString('base64')}`
  await writeFile(path, `${JSON.stringify(lock, null, 2)}\n`)
}

/**
 * @param init.work a temp dir the tests own
 * @param init.userconfig the npm user config serve (and the reference npm) use upstream
 */
export function createP2pWork (init: { work: string, userconfig: string }): P2pWork {
  const { work, userconfig } = init
  const seeders: ServeProcess[] = []

  const project = async (name: string, as: string): Promise<string> => {
    const dir = join(work, as)
    await cp(join(fixtureProjectsDir, name), dir, { recursive: true })
    return dir
  }

  return {
    project,
    async npmReference (name, cache, variant, prepare) {
      const dir = await project(name, `npm-${name}-${variant}`)
      await prepare?.(dir)
      assertOk(await runCommand('npm', ['ci', '--userconfig', userconfig, '--cache', cache], { cwd: dir }), `npm ci ${name}`)
      return dir
    },
    async serve (cache, { extra = [], ...init } = {}) {
      const seeder = await startServe({ ...init, args: ['--cache', cache, '--userconfig', userconfig, ...extra] })
      seeders.push(seeder)
      return seeder
    },
    ipfsNpm (cwd, args, wrapper = []) {
      const [command, ...rest] = [...wrapper, process.execPath, ipfsNpmBin, ...args]
      return runCommand(command, rest, { cwd })
    },
    async stop () {
      await Promise.all(seeders.map(async (seeder) => seeder.stop()))
    },
  }
}
