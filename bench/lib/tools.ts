/**
 * How the bench invokes each package manager: always with its own config, cache and home, so the
 * machine's ~/.npmrc, global stores and caches never take part.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cleanEnv } from '../../test/helpers/run-command.ts'
import type { Invocation } from './measure.ts'

export type Tool = 'npm' | 'ipfs-npm' | 'pnpm' | 'bun'

/** Executables the bench runs. */
export interface Toolchain {
  node: string
  /** The user's npm (`npm` on PATH). */
  npm: string
  /** bin/ipfs-npm.js of this checkout (run with `node`). */
  ipfsNpm: string
  pnpm: string
  bun: string | undefined
}

/** The environment of every run: no npm_* / IPFS_NPM_* leaking in, an empty home. */
export function toolEnv (home: string, extra: Record<string, string> = {}): Record<string, string> {
  const env = cleanEnv({
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local/share'),
    ...extra,
  })
  for (const key of Object.keys(env)) if (/^IPFS_NPM_/.test(key)) delete env[key]
  return env
}

/** Writes an npm userconfig naming `registry` and turning off the network extras both npm and ipfs-npm would add. */
export async function writeUserconfig (file: string, registry: string, extra: string[] = []): Promise<string> {
  await writeFile(file, [`registry=${registry}`, 'audit=false', 'fund=false', 'update-notifier=false', ...extra, ''].join('\n'))
  return file
}

/**
 * pnpm's settings for a project: its `.npmrc` (pnpm 10 takes no `--registry`/`--cache-dir` on
 * every command, `import` none at all).
 */
export async function writePnpmrc (projectDir: string, settings: { registry: string, store: string, cache: string, extra?: string[] }): Promise<void> {
  await writeFile(join(projectDir, '.npmrc'), [`registry=${settings.registry}`, `store-dir=${settings.store}`, `cache-dir=${settings.cache}`, ...settings.extra ?? [], ''].join('\n'))
}

export interface InstallSpec {
  tool: Tool
  cwd: string
  home: string
  /** npm userconfig (npm, ipfs-npm); bun gets `registry` as a flag, pnpm from the project's .npmrc (writePnpmrc). */
  userconfig: string
  registry: string
  cache: string
  /** pnpm's content store. */
  store: string
  /** Extra npm flags (`--offline`, `--prefer-offline`). */
  npmFlags?: string[]
  /** Multiaddrs of ipfs-npm peers. */
  peers?: string[]
  /** bun's `--ignore-scripts` (npm, ipfs-npm and pnpm read `ignore-scripts` from their config files). */
  ignoreScripts?: boolean
}

/** The frozen-lockfile install command of `spec.tool`. */
export function installCommand (tools: Toolchain, spec: InstallSpec): Invocation {
  const env = toolEnv(spec.home)
  const npmArgs = ['ci', '--userconfig', spec.userconfig, '--cache', spec.cache, ...(spec.npmFlags ?? [])]
  switch (spec.tool) {
    case 'npm':
      return { command: tools.npm, args: npmArgs, cwd: spec.cwd, env }
    case 'ipfs-npm':
      return {
        command: tools.node,
        args: [tools.ipfsNpm, ...npmArgs, '--no-mdns', ...(spec.peers ?? []).flatMap((p) => ['--peer', p])],
        cwd: spec.cwd,
        env,
      }
    case 'pnpm':
      return {
        command: tools.pnpm,
        args: ['install', '--frozen-lockfile', '--reporter', 'append-only'],
        cwd: spec.cwd,
        env,
      }
    case 'bun':
      if (tools.bun === undefined) throw new Error('bun is not available')
      return {
        command: tools.bun,
        args: ['install', '--frozen-lockfile', '--registry', spec.registry, '--cache-dir', spec.cache, '--no-progress', ...(spec.ignoreScripts === true ? ['--ignore-scripts'] : [])],
        cwd: spec.cwd,
        env: { ...env, BUN_INSTALL_CACHE_DIR: spec.cache },
      }
  }
}
