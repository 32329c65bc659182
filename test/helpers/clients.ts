/**
 * The five npm clients as a user runs them — npm, pnpm 10, bun, yarn 1 and yarn 4, all from the
 * npm registry as devDependencies — each pointed at one registry URL and nothing else: its own
 * home, cache and store under the test's temp folder, so neither this machine's ~/.npmrc nor a
 * global cache takes part, and a client that went around the registry it was given would fail.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runCommand, type CommandResult } from './run-command.ts'

const nodeModules = fileURLToPath(new URL('../../node_modules/', import.meta.url))

export type ClientName = 'npm' | 'pnpm' | 'bun' | 'yarn1' | 'yarn4'

export const CLIENTS: readonly ClientName[] = ['npm', 'pnpm', 'bun', 'yarn1', 'yarn4']

/** The lockfile each client writes. */
export const LOCKFILES: Record<ClientName, string> = {
  npm: 'package-lock.json',
  pnpm: 'pnpm-lock.yaml',
  bun: 'bun.lock',
  yarn1: 'yarn.lock',
  yarn4: 'yarn.lock',
}

/** A file of a devDependency (some, like pnpm's, export no package.json to resolve). */
const bin = (pkg: string, file: string): string => join(nodeModules, pkg, file)

export interface ClientInstall {
  client: ClientName
  /** The project folder (its lockfile is read from there). */
  cwd: string
  /** The only registry the client is told about, with a trailing slash. */
  registry: string
  /** A folder of the test's own for the client's home, cache and store. */
  state: string
  /** Install exactly what the lockfile says, failing if it would change (npm ci, --frozen-lockfile, --immutable). */
  frozen?: boolean
  /** Extra `.npmrc` lines (npm and pnpm read them). */
  npmrc?: string[]
  /** A command prefix that runs the client elsewhere, e.g. `ip netns exec NS` (test/helpers/netns.ts). */
  wrapper?: string[]
  timeoutMs?: number
}

/** Writes the client's settings for `registry` into the project and its private home. */
async function configure (init: ClientInstall): Promise<{ command: string, args: string[], env: Record<string, string> }> {
  const { client, cwd, registry, state } = init
  const home = join(state, 'home')
  await mkdir(home, { recursive: true })
  const env: Record<string, string> = {
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local/share'),
    // the clients' own "CI" defaults (yarn 4's immutable installs) are chosen per run below
    CI: '',
    COREPACK_ENABLE_STRICT: '0',
  }
  const cache = join(state, 'cache')
  const npmrc = [`registry=${registry}`, 'audit=false', 'fund=false', 'update-notifier=false', ...init.npmrc ?? [], ''].join('\n')
  switch (client) {
    case 'npm': {
      const userconfig = join(state, 'npmrc')
      await writeFile(userconfig, npmrc)
      return { command: 'npm', args: [init.frozen === true ? 'ci' : 'install', '--userconfig', userconfig, '--cache', cache, '--no-progress'], env }
    }
    case 'pnpm':
      // pnpm 10 reads its registry and folders from .npmrc only (no flag on every command)
      await writeFile(join(cwd, '.npmrc'), `${npmrc}store-dir=${join(state, 'store')}\ncache-dir=${cache}\n`)
      return { command: bin('pnpm', 'bin/pnpm.cjs'), args: ['install', init.frozen === true ? '--frozen-lockfile' : '--no-frozen-lockfile', '--reporter', 'append-only'], env }
    case 'bun':
      return {
        command: bin('bun', 'bin/bun.exe'),
        args: ['install', ...(init.frozen === true ? ['--frozen-lockfile'] : []), '--registry', registry, '--cache-dir', cache, '--no-progress', '--no-summary'],
        env: { ...env, BUN_INSTALL_CACHE_DIR: cache, DO_NOT_TRACK: '1' },
      }
    case 'yarn1':
      await writeFile(join(cwd, '.yarnrc'), `registry "${registry}"\ndisable-self-update-check true\n`)
      return {
        command: process.execPath,
        args: [bin('yarn', 'bin/yarn.js'), 'install', ...(init.frozen === true ? ['--frozen-lockfile'] : []), '--registry', registry, '--cache-folder', cache, '--non-interactive', '--no-progress', '--network-timeout', '30000'],
        env,
      }
    case 'yarn4': {
      const host = new URL(registry).hostname
      await writeFile(join(cwd, '.yarnrc.yml'), [
        `npmRegistryServer: "${registry.replace(/\/$/, '')}"`,
        `unsafeHttpWhitelist: ["${host}"]`,
        'nodeLinker: node-modules',
        'enableTelemetry: false',
        'enableGlobalCache: false',
        `cacheFolder: "${cache}"`,
        'enableScripts: false',
        '',
      ].join('\n'))
      return {
        command: process.execPath,
        args: [bin('@yarnpkg/cli-dist', 'bin/yarn.js'), 'install', ...(init.frozen === true ? ['--immutable'] : ['--no-immutable'])],
        env: { ...env, YARN_IGNORE_PATH: '1', YARN_ENABLE_PROGRESS_BARS: 'false', YARN_ENABLE_MIRROR: 'false' },
      }
    }
  }
}

/** Runs the client's install in `cwd` against `registry`. */
export async function installWith (init: ClientInstall): Promise<CommandResult> {
  const { command, args, env } = await configure(init)
  const [first, ...rest] = [...init.wrapper ?? [], command, ...args]
  return runCommand(first, rest, { cwd: init.cwd, env, timeoutMs: init.timeoutMs ?? 120_000 })
}

/** The lockfile the client left in `cwd`. */
export function readLockfile (client: ClientName, cwd: string): Promise<string> {
  return readFile(join(cwd, LOCKFILES[client]), 'utf8')
}
