/**
 * What a command of ours is, as npm's `lib/base-cmd.js` describes its own: a name, a description,
 * usage lines, the params it reads and its aliases, in the command's own file. Dispatch
 * (src/commands/index.ts), abbreviations and `--help` all derive from these.
 */
import type { ConfigDefinition } from '../config.ts'
import { usageError } from '../errors.ts'
import type { NpmLocation } from '../npm-location.ts'
import { optionUsage, OPTIONS, type extractFlags } from '../options.ts'
import type { CommandContext } from './context.ts'

export interface Command {
  /** As typed on the command line, and `npm_command` for scripts. */
  readonly name: string
  /** One line, npm's `static description`. */
  readonly description: string
  /** What follows `<name>` in each usage line, npm's `static usage`. */
  readonly usage: readonly string[]
  /** npm configs (npm's definitions) and our own options (src/options.ts) the command reads. */
  readonly params: readonly string[]
  /** Other names that run it. For a command npm also has, npm's own aliases (`lib/utils/cmd-list.js`). */
  readonly aliases: readonly string[]
  /**
   * Whether npm has a command of this name that this one stands in for: then npm's abbreviations
   * reach it, and what we do not reproduce (`--help`, `-g`, `--json`, devEngines) goes to npm.
   */
  readonly npm: boolean
  /**
   * A cheap test, made before npm's config is loaded, of whether this run is ours at all (e.g. only
   * when an index is configured); false hands it to npm untouched. Absent: every run is ours.
   */
  claims?(init: ClaimInit): Promise<boolean>
  /**
   * Whether the command runs the user's npm itself (as a child, against the shim): then what npm
   * handles its own way (`--json`, `-g`, `--help`) stays with the command rather than going to npm.
   */
  readonly runsNpm?: boolean
  /**
   * Whether it ends in Arborist's reify, as npm's install and ci do: then Ctrl-C is answered as
   * Arborist answers it during reify (src/termination.ts) from the start, our fetch phase being
   * what npm does inside reify. Other commands die by the signal, as npm's do.
   */
  readonly reifies?: boolean
  /** Runs it. Loads what it needs lazily: every command's description is read on every run. */
  exec(ctx: CommandContext): Promise<void>
}

/** What `claims` is given: the arguments after `ipfs-npm` (ours taken out), our flags, the user's npm. */
export interface ClaimInit {
  argv: readonly string[]
  flags: ReturnType<typeof extractFlags>['flags']
  npm: NpmLocation
}

/** The params npm's workspace-aware commands add to their own (npm's `arborist-cmd.js`). */
export const WORKSPACE_PARAMS = ['workspace', 'workspaces', 'include-workspace-root', 'install-links']

/** Our own options as npm definitions, so one rendering serves both. */
function ourDefinition (name: string): ConfigDefinition | undefined {
  const usage = optionUsage(name)
  const row = Object.values(OPTIONS).find((definition) => definition.name === name)
  return usage === undefined || row === undefined ? undefined : { key: name, usage, description: row.description }
}

/**
 * The usage text of a command: a port of npm 11's `BaseCommand.getUsage`, so a command npm also
 * has prints exactly what npm prints for it. Option lines come from npm's config definitions
 * (the user's npm's: `config.definitions`) and, for our options, from src/options.ts.
 */
export function usageOf (command: Command, definitions: Record<string, ConfigDefinition>): string {
  const bin = command.npm ? 'npm' : 'ipfs-npm'
  const defs = command.params.map((param) => definitions[param] ?? ourDefinition(param)).filter((def): def is ConfigDefinition => def !== undefined)
  const lines = [command.description, '', 'Usage:', ...command.usage.map((u) => `${bin} ${command.name} ${u}`.trim())]

  const seenExclusive = new Set<string>()
  let results = ''
  let line = ''
  for (const def of defs) {
    if (seenExclusive.has(def.key)) continue
    let paramUsage = def.usage
    if (def.exclusive) {
      const exclusive = [paramUsage]
      for (const key of def.exclusive) {
        seenExclusive.add(key)
        exclusive.push((defs.find((d) => d.key === key) ?? definitions[key])?.usage)
      }
      paramUsage = exclusive.join('|')
    }
    paramUsage = `[${paramUsage}]`
    if (line.length + paramUsage.length > 80) {
      results = [results, line].filter(Boolean).join('\n')
      line = ''
    }
    line = [line, paramUsage].filter(Boolean).join(' ')
  }
  lines.push('', 'Options:', [results, line].filter(Boolean).join('\n'), '')
  for (const def of defs) {
    if (!def.description) continue
    const flag = [def.short ? `-${def.short}` : '', `--${def.key}`, (def.alias ?? []).map((a) => `--${a}`).join('|')].filter(Boolean).join('|')
    lines.push(`  ${flag}`, `    ${def.description.trim().split('\n')[0]}`, '')
  }
  const { aliases } = command
  if (aliases.length > 0) lines.push('', `alias${aliases.length === 1 ? '' : 'es'}: ${aliases.join(', ')}`)
  lines.push('', command.npm ? `Run "npm help ${command.name}" for more info` : 'See ipfs-npm\'s README for more')
  return lines.join('\n')
}

/** A usage error as npm's commands throw it: the message, then the command's usage (`EUSAGE`, exit 1). */
export function commandUsageError (command: Command, definitions: Record<string, ConfigDefinition>, message: string): Error {
  return usageError(`\n${message ? `${message}\n\n` : ''}${usageOf(command, definitions)}`)
}
