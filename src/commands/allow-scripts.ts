/**
 * npm's install-script policy (RFC npm/rfcs#868), as npm 11's install and ci apply it: the
 * `allowScripts` policy handed to Arborist, the `--strict-allow-scripts` pre-flight, and the
 * warnings about scripts no policy covers. A port of npm's `resolve-allow-scripts.js`,
 * `strict-allow-scripts-preflight.js` and the script half of `reify-finish.js`.
 */
import { createRequire } from 'node:module'
import procLog from 'proc-log'
import type { NpmConfig } from '../config.ts'
import { npmError } from '../errors.ts'
import type { ArboristLike, TreeNode } from './arborist-types.ts'

const require = createRequire(import.meta.url)
const { log } = procLog

export type ScriptPolicy = Record<string, boolean>
interface Unreviewed { node: TreeNode, scripts: Record<string, string> }

const { isExactVersionDisjunction, trustedDisplay } = require('@npmcli/arborist/lib/script-allowed.js') as {
  isExactVersionDisjunction(range: string): boolean
  trustedDisplay(node: TreeNode): { name: string, version?: string }
}
const { collectUnreviewedScripts, strictAllowScriptsError } = require('@npmcli/arborist/lib/unreviewed-scripts.js') as {
  collectUnreviewedScripts(init: Record<string, unknown>): Promise<Unreviewed[]>
  strictAllowScriptsError(unreviewed: Unreviewed[], opts: { remediation: string }): Error
}

function policyFromSources (config: NpmConfig, sources: string[]): ScriptPolicy | null {
  const parseList = require('@npmcli/config/lib/parse-allow-scripts-list.js') as (value: unknown) => string[]
  for (const where of sources) {
    const value = config.get('allow-scripts', where)
    if (value === undefined) continue
    const names = parseList(value)
    if (names.length) return Object.fromEntries(names.map((name) => [name, true]))
  }
  return null
}

/** Drops entries the RFC forbids (semver ranges, dist-tags), warning as npm does. */
function validatePolicy (policy: ScriptPolicy | null, label: string): ScriptPolicy | null {
  if (!policy) return null
  const npa = require('npm-package-arg') as (spec: string) => { type: string, fetchSpec: string, rawSpec: string }
  const cleaned: ScriptPolicy = {}
  for (const [key, value] of Object.entries(policy)) {
    let parsed
    try {
      parsed = npa(key)
    } catch {
      log.warn('install-scripts', `${label}: ignoring unparseable entry "${key}"`)
      continue
    }
    if (parsed.type === 'tag') {
      log.warn('install-scripts', `${label}: ignoring "${key}" — dist-tag specs (@latest, @next, ...) are not allowed; use exact versions joined by "||", or the bare package name, instead`)
      continue
    }
    if (parsed.type === 'range') {
      const nameOnly = parsed.fetchSpec === '*' || parsed.rawSpec === '' || parsed.rawSpec === '*'
      if (!nameOnly && !isExactVersionDisjunction(parsed.fetchSpec)) {
        log.warn('install-scripts', `${label}: ignoring "${key}" — semver ranges (^, ~, >=, <) are not allowed; use exact versions joined by "||" instead`)
        continue
      }
    }
    cleaned[key] = value
  }
  return Object.keys(cleaned).length > 0 ? cleaned : null
}

async function readRootPackage (path: string): Promise<Record<string, unknown>> {
  const pkgJson = require('@npmcli/package-json') as { normalize(path: string): Promise<{ content: Record<string, unknown> }> }
  try {
    return (await pkgJson.normalize(path)).content
  } catch {
    // npm reads it only for the script policy; Arborist reports a broken package.json itself
    return {}
  }
}

/** The project's policy: resolveAllowScripts with the root package.json at `path`. */
export async function projectScriptPolicy (config: NpmConfig, path: string): Promise<ScriptPolicy | null> {
  return resolveAllowScripts(config, await readRootPackage(path))
}

/** The effective policy: CLI/env (refused in a project), else package.json#allowScripts, else .npmrc. */
export function resolveAllowScripts (config: NpmConfig, rootPackage: { allowScripts?: unknown }): ScriptPolicy | null {
  const cliPolicy = policyFromSources(config, ['cli', 'env'])
  if (cliPolicy) {
    throw npmError('EALLOWSCRIPTS', '--allow-scripts is not allowed in project-scoped installs. Add the entries to the "allowScripts" field in package.json, or to .npmrc, instead.')
  }
  const field = rootPackage.allowScripts
  const pkgPolicy = field && typeof field === 'object' && Object.keys(field).length > 0 ? field as ScriptPolicy : null
  const pkg = validatePolicy(pkgPolicy, 'package.json')
  const rc = validatePolicy(policyFromSources(config, ['project', 'user', 'global', 'builtin']), '.npmrc')
  if (pkg) {
    if (rc) log.warn('install-scripts', '.npmrc allow-scripts setting is being ignored because package.json declares its own allowScripts field')
    return pkg
  }
  return rc
}

const REMEDIATION = 'Run `npm install-scripts ls` to review, or `npm install-scripts approve <pkg>` to allow.'

function unreviewedIn (arb: ArboristLike, tree: TreeNode | undefined, dangerouslyAllowAllScripts: boolean): Promise<Unreviewed[]> {
  return collectUnreviewedScripts({
    tree,
    policy: arb.options.allowScripts ?? null,
    ignoreScripts: !!arb.options.ignoreScripts,
    dangerouslyAllowAllScripts,
  })
}

/** `--strict-allow-scripts`: refuses, before reify, an ideal tree with scripts no policy covers. */
export async function strictAllowScriptsPreflight (arb: ArboristLike, flat: Record<string, unknown>): Promise<void> {
  if (!flat.strictAllowScripts) return
  if (!arb.idealTree) await arb.buildIdealTree(arb.options)
  const unreviewed = await unreviewedIn(arb, arb.idealTree, !!flat.dangerouslyAllowAllScripts)
  if (unreviewed.length === 0) return
  throw strictAllowScriptsError(unreviewed, {
    remediation: 'Approve them with `npm install-scripts approve`, deny them with `npm install-scripts deny`, or bypass this check with `--dangerously-allow-all-scripts`.',
  })
}

/** After reify: npm's warnings about misplaced policies and about scripts no policy covers. */
export async function warnUnreviewedScripts (arb: ArboristLike, flat: Record<string, unknown>): Promise<void> {
  for (const node of arb.actualTree?.inventory.values() ?? []) {
    if (node.isWorkspace && !node.isProjectRoot && node.package?.allowScripts !== undefined) {
      log.warn('install-scripts', `allowScripts in workspace ${node.packageName ?? node.name} (${node.path}) is ignored. Move the field to the project root package.json.`)
    }
  }
  const unreviewed = await unreviewedIn(arb, arb.actualTree, !!flat.dangerouslyAllowAllScripts)
  if (unreviewed.length === 0) return
  const lines = unreviewed.map(({ node, scripts }) => {
    const { name, version } = trustedDisplay(node)
    const events = Object.entries(scripts).map(([event, cmd]) => `${event}: ${cmd}`).join('; ')
    return `  ${name || '<unknown>'}${version ? `@${version}` : ''} (${events})`
  })
  const count = unreviewed.length
  log.warn('install-scripts', [`${count} ${count === 1 ? 'package has' : 'packages have'} install scripts not yet covered by allowScripts:`, ...lines, '', REMEDIATION].join('\n'))
}
