/**
 * The CLI dispatch (DESIGN step 1). The commands in src/commands/index.ts are ours (`install` and
 * `ci` under npm's names, aliases and abbreviations; `serve`…); everything else is handed to the
 * user's npm before anything heavy is loaded.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { usageOf } from './commands/command.ts'
import { claimed, commandFinder, ipfsUsage, mayBeOurs } from './commands/index.ts'
import { loadNpmConfig, type NpmConfig } from './config.ts'
import { findUserNpm } from './npm-location.ts'
import { extractFlags, resolveOptions } from './options.ts'
import { handToNpm } from './passthrough.ts'
import { progressWanted } from './progress.ts'
import { createReporter } from './reporter.ts'
import { onTermination } from './termination.ts'

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
  const find = commandFinder(npm)
  // `ipfs-npm help ipfs`: npm has no such page; ours lists what we add
  if (parsed.rest.filter((arg) => !arg.startsWith('-')).join(' ') === 'help ipfs') {
    earlyReporter.close()
    process.stdout.write(`${ipfsUsage()}\n`)
    return 0
  }
  if (!mayBeOurs(parsed.rest, find) || !await claimed({ argv: parsed.rest, flags: parsed.flags, npm }, find)) {
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
  // `ipfs-npm help serve`: npm has no page for a command of ours alone
  const helpFor = config.command === 'help' ? find(config.args[0]) : undefined
  if (helpFor !== undefined && !helpFor.npm) {
    process.stdout.write(`${usageOf(helpFor, config.definitions)}\n`)
    return 0
  }
  const command = find(config.command)
  if (command === undefined || (command.npm && command.runsNpm !== true && npmShouldRun(config))) {
    handToNpm(npm, parsed.rest)
    return undefined
  }
  if (config.get('usage') === true && command.runsNpm !== true) {
    process.stdout.write(`${usageOf(command, config.definitions)}\n`)
    return 0
  }
  // `ipfs-npm serve --version`: a command only we have answers with our version, not npm's
  if (!command.npm && config.get('version', 'cli') === true) {
    process.stdout.write(`${(await import('./version.ts')).ownVersion()}\n`)
    return 0
  }
  process.env.npm_command = command.name
  const logsMax = config.get('logs-max') as number
  const loglevel = config.get('loglevel') as string
  const reporter = createReporter({
    loglevel,
    logsDir: logsMax > 0 ? (config.get('logs-dir') as string | undefined) ?? join(config.get('cache') as string, '_logs') : undefined,
    // npm's spinner, for the commands npm would draw it for (ours alone, like serve, print their own lines)
    progress: { enabled: command.npm && progressWanted({ progress: config.get('progress'), loglevel }), unicode: config.get('unicode') === true },
  })
  const termination = command.reifies !== true ? undefined : onTermination((err) => {
    const code = reporter.error(err)
    reporter.close()
    process.exit(code)
  })
  try {
    const options = resolveOptions({ flags: parsed.flags, env: process.env, home: config.home, projectDir: config.localPrefix })
    await command.exec({ config, options, reporter, npm, argv: parsed.rest, started, reifying: termination?.reifying })
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    return reporter.error(err)
  } finally {
    termination?.dispose()
    reporter.close()
  }
}

const code = await main(process.argv.slice(2))
if (code !== undefined) {
  process.exitCode = code
  // Everything a command does is awaited by now (cache writes, scripts, the node's stop, the old
  // tree's removal); what is left are sockets' and libp2p's close timers, which held the shell
  // 300 ms or more after a cold install's last line. Exit once the output is flushed.
  process.stdout.write('', () => process.stderr.write('', () => process.exit()))
}
