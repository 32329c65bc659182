/**
 * The CLI dispatch (DESIGN step 1). `install` and `ci` (with npm's aliases) and `serve` are ours;
 * everything else is handed to the user's npm before anything heavy is loaded.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { derefCommand, mayBeOurs, type OurCommand } from './commands/index.ts'
import type { CommandContext } from './commands/context.ts'
import { loadNpmConfig, type NpmConfig } from './config.ts'
import { findUserNpm } from './npm-location.ts'
import { extractFlags, resolveOptions } from './options.ts'
import { handToNpm } from './passthrough.ts'
import { createReporter } from './reporter.ts'

const started = Date.now()

/** Whether the project declares `devEngines`, which npm checks before install in ways we do not reproduce. */
function declaresDevEngines (prefix: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(prefix, 'package.json'), 'utf8')) as { devEngines?: unknown }).devEngines !== undefined
  } catch {
    return false
  }
}

/** Settings npm handles in ways we do not reproduce: such runs go to npm as they are. */
function npmShouldRun (config: NpmConfig): boolean {
  return config.get('global') === true || config.get('location') === 'global' ||
    config.get('usage') === true || config.get('json') === true ||
    config.get('version', 'cli') === true || config.get('versions', 'cli') === true ||
    declaresDevEngines(config.localPrefix)
}

async function runCommand (command: OurCommand, ctx: CommandContext): Promise<void> {
  switch (command) {
    case 'install': return (await import('./commands/install.ts')).install(ctx)
    case 'ci': return (await import('./commands/ci.ts')).ci(ctx)
    case 'serve': return (await import('./commands/serve.ts')).serve(ctx)
  }
}

/** Runs ipfs-npm; resolves to the exit code, or undefined once npm has taken over. */
async function main (argv: string[]): Promise<number | undefined> {
  const npm = findUserNpm()
  if (npm === undefined) {
    process.stderr.write('ipfs-npm: cannot find npm (looked on PATH and beside node); set IPFS_NPM_NPM to its bin/npm-cli.js\n')
    return 1
  }
  const earlyReporter = createReporter({ loglevel: 'notice' })
  let parsed
  try {
    parsed = extractFlags(argv)
  } catch (err) {
    return earlyReporter.error(err)
  }
  if (!mayBeOurs(parsed.rest)) {
    earlyReporter.close()
    handToNpm(npm, parsed.rest)
    return undefined
  }
  let config: NpmConfig
  try {
    config = await loadNpmConfig({ npm, argv: parsed.rest })
  } catch (err) {
    return earlyReporter.error(err)
  }
  earlyReporter.close()
  const command = derefCommand(config.command)
  if (command === undefined || (command !== 'serve' && npmShouldRun(config))) {
    handToNpm(npm, parsed.rest)
    return undefined
  }
  process.env.npm_command = command === 'serve' ? 'serve' : command
  const logsMax = config.get('logs-max') as number
  const reporter = createReporter({
    loglevel: config.get('loglevel') as string,
    logsDir: logsMax > 0 ? (config.get('logs-dir') as string | undefined) ?? join(config.get('cache') as string, '_logs') : undefined,
  })
  try {
    const options = resolveOptions({ flags: parsed.flags, env: process.env, home: config.home, projectDir: config.localPrefix })
    await runCommand(command, { config, options, reporter, npm, started })
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    return reporter.error(err)
  } finally {
    reporter.close()
  }
}

const code = await main(process.argv.slice(2))
if (code !== undefined) {
  process.exitCode = code
  // libp2p and sockets are closed on the way out; should anything linger, don't hang the shell
  setTimeout(() => process.exit(), 2000).unref()
}
