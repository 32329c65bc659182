/**
 * npm's configuration, loaded exactly as npm loads it: the user's npm's own `@npmcli/config` and
 * definitions (so a config that npm accepts, warns about or rejects is accepted, warned about or
 * rejected here alike), the user's npm as `npmPath` (so its builtin `npmrc` and global prefix
 * count), then project, user and global `.npmrc`, `npm_config_*` env vars and flags.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
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
  /** npm's config definitions (`@npmcli/config/lib/definitions`), as the user's npm has them. */
  readonly definitions: Record<string, ConfigDefinition>
  /** Whether a package.json was found walking up from the cwd. */
  readonly localPackage: boolean
  get(key: string, where?: string): unknown
  isDefault(key: string): boolean
  set(key: string, value: unknown, where?: string): void
  /** Prints the warnings npm queues while loading (unknown configs…), as npm does before a command. */
  logWarnings(): void
  /** Command-line flags that are none of npm's configs (ours are taken out before npm reads the rest). */
  unknownCliFlags(): string[]
  /** Sets `npm_config_*` and friends for lifecycle scripts, as npm does. */
  setEnvs(): void
}

/** One of npm's config definitions, as far as usage texts read it. */
export interface ConfigDefinition { key: string, usage: string, description?: string, short?: string, alias?: string[], exclusive?: string[] }

interface ConfigClass {
  new (init: Record<string, unknown>): Omit<NpmConfig, 'command' | 'args' | 'unknownCliFlags'> & {
    load(): Promise<void>
    parsedArgv: { remain: string[] }
    /** Where each layer's values are: `cli`, `env`, `user`… */
    data: Map<string, { data: Record<string, unknown> }>
  }
}

/**
 * The user's npm's own `@npmcli/config`, or ours should that npm not bundle one where npm 9–11 do.
 * Ours may be newer than the user's npm and judge keys otherwise (a later one stopped accepting
 * `nodedir` silently): reading with npm's keeps npm's warnings exactly.
 */
function npmConfigModule (npm: NpmLocation): { Config: ConfigClass, definitions: Record<string, unknown> } {
  const load = (from: string): { Config: ConfigClass, definitions: Record<string, unknown> } =>
    ({ Config: require(from) as ConfigClass, definitions: require(`${from}/lib/definitions`) as Record<string, unknown> })
  try {
    return load(join(npm.root, 'node_modules', '@npmcli', 'config'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err
    return load('@npmcli/config')
  }
}

/** Loads npm's config for `argv` (the arguments after `ipfs-npm`, ours already removed). */
export async function loadNpmConfig (init: { npm: NpmLocation, argv: readonly string[], cwd?: string, env?: NodeJS.ProcessEnv }): Promise<NpmConfig> {
  const { Config, definitions: { definitions, flatten, nerfDarts, shorthands } } = npmConfigModule(init.npm)
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
  const unknownCliFlags = (): string[] => Object.keys(config.data.get('cli')?.data ?? {}).filter((key) => (definitions as Record<string, unknown>)[key] === undefined)
  return Object.assign(config, { command, args, unknownCliFlags })
}
