/**
 * npm's configuration, loaded exactly as npm loads it: `@npmcli/config` with npm's own
 * definitions, the user's npm as `npmPath` (so its builtin `npmrc` and global prefix count),
 * then project, user and global `.npmrc`, `npm_config_*` env vars and flags.
 */
import { createRequire } from 'node:module'
import type { NpmLocation } from './npm-location.ts'

const require = createRequire(import.meta.url)

/** npm's flattened options, as npm hands them to Arborist, pacote and npm-registry-fetch. */
export type FlatOptions = Record<string, unknown> & {
  registry: string
  cache: string
}

/** The part of `@npmcli/config`'s Config that the pipeline uses. */
export interface NpmConfig {
  /** The command as typed (`i`, `ci`…), or undefined when none was given. */
  readonly command: string | undefined
  /** Positional arguments after the command. */
  readonly args: string[]
  readonly flat: FlatOptions
  readonly localPrefix: string
  readonly globalPrefix: string
  readonly home: string
  /** Whether a package.json was found walking up from the cwd. */
  readonly localPackage: boolean
  get(key: string, where?: string): unknown
  isDefault(key: string): boolean
  set(key: string, value: unknown, where?: string): void
  /** Prints the warnings npm queues while loading (unknown configs…), as npm does before a command. */
  logWarnings(): void
  /** Sets `npm_config_*` and friends for lifecycle scripts, as npm does. */
  setEnvs(): void
}

interface ConfigClass {
  new (init: Record<string, unknown>): NpmConfig & {
    load(): Promise<void>
    parsedArgv: { remain: string[] }
  }
}

/** Loads npm's config for `argv` (the arguments after `ipfs-npm`, ours already removed). */
export async function loadNpmConfig (init: { npm: NpmLocation, argv: readonly string[], cwd?: string, env?: NodeJS.ProcessEnv }): Promise<NpmConfig> {
  const Config = require('@npmcli/config') as ConfigClass
  const { definitions, flatten, nerfDarts, shorthands } = require('@npmcli/config/lib/definitions') as Record<string, unknown>
  const config = new Config({
    npmPath: init.npm.root,
    definitions,
    flatten,
    nerfDarts,
    shorthands,
    argv: [process.execPath, init.npm.cli, ...init.argv],
    cwd: init.cwd ?? process.cwd(),
    env: init.env ?? process.env,
    warn: false,
  })
  await config.load()
  const [command, ...args] = config.parsedArgv.remain
  return Object.assign(config, { command, args })
}
