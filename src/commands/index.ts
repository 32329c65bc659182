/**
 * Which commands are ours. npm's own aliases and unambiguous abbreviations (npm 11's
 * `lib/utils/cmd-list.js`) that dereference to `install` or `ci` run here; `serve` is ours alone;
 * everything else goes to the user's npm.
 */
export type OurCommand = 'install' | 'ci' | 'serve'

const INSTALL = ['add', 'i', 'in', 'ins', 'inst', 'insta', 'instal', 'install', 'isnt', 'isnta', 'isntal', 'isntall']
const CI = ['ci', 'clean-install', 'ic', 'install-cl', 'install-cle', 'install-clea', 'install-clean',
  'isntall-', 'isntall-c', 'isntall-cl', 'isntall-cle', 'isntall-clea', 'isntall-clean']

const COMMANDS = new Map<string, OurCommand>([
  ...INSTALL.map((name) => [name, 'install'] as const),
  ...CI.map((name) => [name, 'ci'] as const),
  ['serve', 'serve'],
])

/** The command `name` (as typed) stands for, if it is one of ours. */
export function derefCommand (name: string | undefined): OurCommand | undefined {
  return name === undefined ? undefined : COMMANDS.get(name)
}

/**
 * Whether any argument could be one of our commands. A cheap test made before loading npm's
 * config: when it says no, the command is certainly not ours and npm can take over at once.
 */
export function mayBeOurs (argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false
    if (COMMANDS.has(arg)) return true
  }
  return false
}
