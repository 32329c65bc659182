/**
 * `ipfs-npm version-ipfs`: ipfs-npm's own version. `ipfs-npm --version` stays npm's (scripts
 * read it to learn which npm they run under), as does `ipfs-npm version` (npm's command).
 */
import type { Command } from './command.ts'
import type { CommandContext } from './context.ts'

async function exec (ctx: CommandContext): Promise<void> {
  const { ownVersion } = await import('../version.ts')
  ctx.reporter.output(ownVersion())
}

export const versionIpfs: Command = {
  name: 'version-ipfs',
  description: 'Print ipfs-npm\'s own version (--version is npm\'s)',
  usage: [''],
  params: [],
  aliases: [],
  npm: false,
  exec,
}
