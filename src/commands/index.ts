/**
 * Our commands, and which one a name typed on the command line stands for. Each command describes
 * itself in its own file (src/commands/command.ts); adding one is that file and a line here.
 *
 * A name reaches a command npm also has exactly as it reaches npm's: through npm's own aliases and
 * unambiguous abbreviations, read from the user's npm (`lib/utils/cmd-list.js`), so `isntall-cl`
 * is `ci` here exactly when it is for that npm. Commands only we have answer to their name and
 * their aliases alone: an abbreviation of ours could be an npm command's.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { NpmLocation } from '../npm-location.ts'
import { OPTIONS, optionUsage } from '../options.ts'
import { ci } from './ci.ts'
import type { ClaimInit, Command } from './command.ts'
import { install } from './install.ts'
import { pin } from './pin.ts'
import { publish } from './publish.ts'
import { dedupe, outdated, update, view } from './read-registry.ts'
import { serve } from './serve.ts'
import { status } from './status.ts'
import { versionIpfs } from './version-ipfs.ts'

export const COMMANDS: readonly Command[] = [
  install,
  ci,
  serve,
  publish,
  pin,
  outdated,
  update,
  view,
  dedupe,
  status,
  versionIpfs,
]

type Deref = (name: string) => string | undefined

/** npm's `deref` from the user's npm, or, should its layout ever differ, names and aliases alone. */
function npmDeref (npm: NpmLocation): Deref {
  try {
    const { deref } = createRequire(import.meta.url)(join(npm.root, 'lib', 'utils', 'cmd-list.js')) as { deref?: Deref }
    if (typeof deref === 'function') return deref
  } catch {
    // an npm without it: fall through
  }
  return (name) => COMMANDS.find((command) => command.npm && (command.name === name || command.aliases.includes(name)))?.name
}

/**
 * Finds commands by name as typed.
 *
 * @example
 * const find = commandFinder(npm)
 * find('isntall') // install
 * find('run')     // undefined: npm's
 */
export function commandFinder (npm: NpmLocation): (name: string | undefined) => Command | undefined {
  const deref = npmDeref(npm)
  return (name) => {
    if (name === undefined) return undefined
    const own = COMMANDS.find((command) => !command.npm && (command.name === name || command.aliases.includes(name)))
    if (own !== undefined) return own
    const npmName = deref(name)
    return COMMANDS.find((command) => command.npm && command.name === npmName)
  }
}

/**
 * Whether any argument could name one of our commands. A cheap test made before loading npm's
 * config: when it says no, the command is certainly not ours and npm can take over at once.
 */
export function mayBeOurs (argv: readonly string[], find: (name: string) => Command | undefined): boolean {
  for (const arg of argv) {
    if (arg === '--') return false
    if (!arg.startsWith('-') && find(arg) !== undefined) return true
  }
  return false
}

/**
 * Whether the first command of ours that `argv` names takes this run (its `claims`, made before
 * npm's config is loaded; a command without one always does). False: npm's, untouched.
 */
export async function claimed (init: ClaimInit, find: (name: string) => Command | undefined): Promise<boolean> {
  for (const arg of init.argv) {
    if (arg === '--') return false
    const command = arg.startsWith('-') ? undefined : find(arg)
    if (command !== undefined) return command.claims === undefined || await command.claims(init)
  }
  return false
}

/**
 * `ipfs-npm help ipfs`: what ipfs-npm adds to npm — our commands and our options, from their own
 * descriptions — where `npm help` would find no page.
 */
export function ipfsUsage (): string {
  const column = (left: string, right: string): string => `  ${left.padEnd(28)} ${right}`
  const commands = COMMANDS.map((command) => column([command.name, ...command.aliases.slice(0, 2)].join(', '), command.description))
  const options = Object.values(OPTIONS).map((option) => column(optionUsage(option.name) ?? `--${option.name}`, `${option.description} (${option.env})`))
  return [
    'ipfs-npm: npm install and npm ci with tarballs from IPFS peers, verified, and the registry only when no peer has them',
    '',
    'Usage:',
    'ipfs-npm <command> [args]',
    '',
    'Commands of ours (every other command is npm\'s, run by your npm as it is):',
    ...commands,
    '',
    'Options of ours (flags; also IPFS_NPM_* environment variables and .ipfs-npmrc keys):',
    ...options,
    '',
    'ipfs-npm --version prints npm\'s version; ipfs-npm version-ipfs prints ours.',
    'Run "ipfs-npm help <command>" for one of ours, "npm help <command>" for npm\'s.',
  ].join('\n')
}
