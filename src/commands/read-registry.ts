/**
 * `outdated`, `update`, `view`, `dedupe`: npm's commands that read the registry, made to see what
 * installs see. When an index is configured, or the registry does not answer, the user's npm runs
 * against the shim (src/npm-through-shim.ts); otherwise npm takes the command before anything
 * else is loaded, exactly as for any command of npm's — the test for it reads two small files and
 * opens one TCP connection (src/registry-probe.ts).
 */
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import procLog from 'proc-log'
import { resolveOptions, type IpfsNpmOptions } from '../options.ts'
import { probableRegistry, registryRefuses } from '../registry-probe.ts'
import { WORKSPACE_PARAMS, type ClaimInit, type Command } from './command.ts'
import type { CommandContext } from './context.ts'

const { log } = procLog

/**
 * How long the registry's connection gets to fail: an offline machine's failures (no route, refused,
 * a name that does not resolve) come at once; within it the probe stays inside the ≤ 50 ms a
 * passthrough may cost.
 */
const PROBE_TIMEOUT = 30

/** npm's localPrefix: the nearest directory up from `cwd` with a package.json or node_modules. */
function projectDirOf (cwd: string): string {
  for (let dir = cwd; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) || existsSync(join(dir, 'node_modules'))) return dir
    if (dirname(dir) === dir) return cwd
  }
}

const hasIndex = (options: IpfsNpmOptions): boolean =>
  options.indexes.length > 0 || options.scopeIndexes.length > 0

/**
 * Whether a run goes through the shim: an index is configured, or the registry does not answer.
 * Decided before npm's config is loaded.
 */
async function claims (init: ClaimInit): Promise<boolean> {
  const projectDir = projectDirOf(process.cwd())
  const options = resolveOptions({ flags: init.flags, env: process.env, home: homedir(), projectDir })
  if (hasIndex(options)) return true
  return registryRefuses(probableRegistry({ argv: init.argv, env: process.env, projectDir, npmRoot: init.npm.root }), PROBE_TIMEOUT)
}

/** Runs the command as npm does, against the shim. */
async function exec (ctx: CommandContext): Promise<void> {
  const { startPipeline } = await import('../pipeline.ts')
  const { runNpmThroughShim } = await import('../npm-through-shim.ts')
  const pipeline = await startPipeline({ config: ctx.config, options: ctx.options, log: (msg) => log.verbose('ipfs', msg) })
  try {
    process.exitCode = await runNpmThroughShim({ npm: ctx.npm, argv: ctx.argv, config: ctx.config, pipeline })
  } finally {
    await pipeline.stop()
  }
}

/** One of npm's registry-reading commands, as npm 11 describes it. */
const reading = (name: string, description: string, usage: string[], params: string[], aliases: string[]): Command =>
  ({ name, description, usage, params, aliases, npm: true, runsNpm: true, claims, exec })

export const outdated = reading('outdated', 'Check for outdated packages', ['[<package-spec> ...]'],
  ['all', 'json', 'long', 'parseable', 'global', 'workspace', 'before', 'min-release-age', 'min-release-age-exclude'], [])
export const update = reading('update', 'Update packages', ['[<pkg>...]'],
  ['save', 'global', 'install-strategy', 'legacy-bundling', 'global-style', 'omit', 'include', 'strict-peer-deps',
    'package-lock', 'foreground-scripts', 'ignore-scripts', 'allow-scripts', 'strict-allow-scripts',
    'dangerously-allow-all-scripts', 'audit', 'before', 'min-release-age', 'min-release-age-exclude', 'bin-links', 'fund',
    'dry-run', ...WORKSPACE_PARAMS], ['u', 'up', 'upgrade', 'udpate'])
export const view = reading('view', 'View registry info', ['[<package-spec>] [<field>[.subfield]...]'],
  ['json', 'workspace', 'workspaces', 'include-workspace-root'], ['info', 'show', 'v'])
export const dedupe = reading('dedupe', 'Reduce duplication in the package tree', [''],
  ['install-strategy', 'legacy-bundling', 'global-style', 'strict-peer-deps', 'package-lock', 'omit', 'include',
    'ignore-scripts', 'allow-directory', 'allow-file', 'allow-git', 'allow-remote', 'audit', 'bin-links', 'fund', 'dry-run',
    ...WORKSPACE_PARAMS], ['ddp'])
