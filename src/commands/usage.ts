/**
 * npm's usage text for install and ci (a port of npm 11's `BaseCommand.getUsage`), printed under a
 * usage error exactly as npm prints it. Option lines come from npm's own config definitions.
 */
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

interface Definition { key: string, usage: string, description?: string, short?: string, alias?: string[], exclusive?: string[] }

interface CommandUsage { description: string, usage: string[], params: string[], aliases: string[] }

const WORKSPACE_PARAMS = ['workspace', 'workspaces', 'include-workspace-root', 'install-links']

/** npm 11's `static description`, `usage`, `params` and aliases of the two commands. */
const COMMANDS: Record<'install' | 'ci', CommandUsage> = {
  install: {
    description: 'Install a package',
    usage: ['[<package-spec> ...]'],
    params: ['save', 'save-exact', 'global', 'install-strategy', 'legacy-bundling', 'global-style', 'omit', 'include',
      'strict-peer-deps', 'prefer-dedupe', 'package-lock', 'package-lock-only', 'foreground-scripts', 'ignore-scripts',
      'allow-directory', 'allow-file', 'allow-git', 'allow-remote', 'allow-scripts', 'strict-allow-scripts',
      'dangerously-allow-all-scripts', 'audit', 'before', 'min-release-age', 'min-release-age-exclude', 'bin-links',
      'fund', 'dry-run', 'cpu', 'os', 'libc', ...WORKSPACE_PARAMS],
    aliases: ['add', 'i', 'in', 'ins', 'inst', 'insta', 'instal', 'isnt', 'isnta', 'isntal', 'isntall'],
  },
  ci: {
    description: 'Clean install a project',
    usage: [''],
    params: ['install-strategy', 'legacy-bundling', 'global-style', 'omit', 'include', 'strict-peer-deps',
      'foreground-scripts', 'ignore-scripts', 'allow-directory', 'allow-file', 'allow-git', 'allow-remote',
      'allow-scripts', 'strict-allow-scripts', 'dangerously-allow-all-scripts', 'audit', 'bin-links', 'fund', 'dry-run',
      ...WORKSPACE_PARAMS],
    aliases: ['clean-install', 'ic', 'install-clean', 'isntall-clean'],
  },
}

/** The usage text of `npm <name>`. */
export function usageOf (name: 'install' | 'ci'): string {
  const { definitions } = require('@npmcli/config/lib/definitions') as { definitions: Record<string, Definition> }
  const { description, usage, params, aliases } = COMMANDS[name]
  const defs = params.map((param) => definitions[param]).filter((def): def is Definition => def !== undefined)
  const lines = [description, '', 'Usage:', ...usage.map((u) => `npm ${name} ${u}`.trim())]

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
  lines.push('', `alias${aliases.length === 1 ? '' : 'es'}: ${aliases.join(', ')}`, '', `Run "npm help ${name}" for more info`)
  return lines.join('\n')
}

/** A usage error as npm's commands throw it: the message, then the command's usage (`EUSAGE`, exit 1). */
export function usageError (name: 'install' | 'ci', prefix: string): Error {
  return Object.assign(new Error(`\n${prefix ? `${prefix}\n\n` : ''}${usageOf(name)}`), { code: 'EUSAGE' })
}
