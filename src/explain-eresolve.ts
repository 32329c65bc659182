/**
 * npm's human-readable explanation of an ERESOLVE conflict (a port of npm 11's
 * `explain-eresolve.js` and `explain-dep.js`, without colour): used for the
 * `npm warn ERESOLVE overriding peer dependency` warning and for the ERESOLVE error.
 */
import { relative } from 'node:path'

/** The shapes of Arborist's explanation objects (`edge.explain()`, `node.explain()`). */
export interface ExplainedNode {
  name?: string
  version?: string
  location?: string
  isWorkspace?: boolean
  whileInstalling?: ExplainedNode
  dependents?: ExplainedEdge[]
  linksIn?: ExplainedNode[]
  extraneous?: boolean
  dev?: boolean
  optional?: boolean
  peer?: boolean
  bundled?: boolean
  overridden?: boolean
}
export interface ExplainedEdge {
  name: string
  type: string
  spec: string
  rawSpec?: string
  bundled?: boolean
  overridden?: boolean
  from: ExplainedNode
}
export interface Explanation {
  edge?: ExplainedEdge
  dep?: ExplainedNode
  current?: ExplainedNode
  currentEdge?: ExplainedEdge
  peerConflict?: { current?: ExplainedNode, peer: ExplainedNode }
  strictPeerDeps?: boolean
}

const META = ['extraneous', 'dev', 'optional', 'peer', 'bundled', 'overridden'] as const

function printNode (node: ExplainedNode): string {
  const extra = META.filter((meta) => node[meta]).map((meta) => ` ${meta}`).join('')
  return `${node.name}@${node.version}${extra}${node.location ? `\n${node.location}` : ''}`
}

const indent = (messages: string[]): string => `\n${messages.join('\n')}`.split('\n').join('\n  ')

function explainNode (node: ExplainedNode, depth: number, seen = new Set<string>()): string {
  return printNode(node) + explainDependents(node, depth, seen) + explainLinksIn(node, depth, seen)
}

function explainLinksIn ({ linksIn }: ExplainedNode, depth: number, seen: Set<string>): string {
  if (!linksIn?.length || depth <= 0) return ''
  return indent(linksIn.map((link) => explainNode(link, depth - 1, seen)))
}

function explainDependents ({ dependents }: ExplainedNode, depth: number, seen: Set<string>): string {
  if (!dependents?.length || depth <= 0) return ''
  const max = Math.ceil(depth / 2)
  const messages = dependents.slice(0, max).map((edge) => explainEdge(edge, depth, seen))
  if (dependents.length > max) {
    let len = 0
    const names: string[] = []
    for (let i = max; i < dependents.length; i++) {
      const name = dependents[i].from.name ?? 'the root project'
      len += name.length
      if (len >= 50 && i < dependents.length - 1) {
        names.push('...')
        break
      }
      names.push(name)
    }
    messages.push(`${dependents.length - max} more (${names.join(', ')})`)
  }
  return indent(messages)
}

function explainEdge (edge: ExplainedEdge, depth: number, seen = new Set<string>()): string {
  const { name, type, bundled, from, spec, rawSpec, overridden } = edge
  let dep = type === 'workspace' ? relative(from.location ?? '', spec.slice('file:'.length)) : `${name}@"${spec}"`
  if (overridden) dep = `overridden ${dep} (was "${rawSpec}")`
  return `${type === 'prod' ? '' : `${type} `}${bundled ? 'bundled ' : ''}${dep} from ${explainFrom(from, depth, seen)}`
}

function explainFrom (from: ExplainedNode, depth: number, seen: Set<string>): string {
  if (!from.name && !from.version) return 'the root project'
  // a cycle (linked store nodes) is printed once, not followed forever
  const id = `${from.name}@${from.version}:${from.location}`
  if (seen.has(id)) return printNode(from)
  seen.add(id)
  const result = printNode(from) + explainDependents(from, depth - 1, seen) + explainLinksIn(from, depth - 1, seen)
  seen.delete(id)
  return result
}

/** The explanation, `depth` levels deep (npm shows 2 in warnings, 4 in errors). */
export function explainEresolve (expl: Explanation, depth: number): string {
  const { edge, dep, current, peerConflict, currentEdge } = expl
  const out: string[] = []
  const whileInstalling = dep?.whileInstalling ?? current?.whileInstalling ?? edge?.from?.whileInstalling
  if (whileInstalling) out.push(`While resolving: ${printNode(whileInstalling)}`)
  if (current) out.push(`Found: ${explainNode(current, depth)}`)
  else if (peerConflict?.current) out.push(`Found: ${explainNode(peerConflict.current, depth)}`)
  else if (currentEdge) out.push(`Found: ${explainEdge(currentEdge, depth)}`)
  else if (edge) out.push(`Found: ${explainEdge(edge, depth)}`)
  if (edge) out.push(`\nCould not resolve dependency:\n${explainEdge(edge, depth)}`)
  if (peerConflict) out.push(`\nConflicting peer dependency: ${explainNode(peerConflict.peer, depth)}`)
  return out.join('\n')
}

/** npm's advice under an ERESOLVE error. */
export function eresolveFix (expl: Explanation): string {
  const flags = [expl.strictPeerDeps ? '--no-strict-peer-deps' : '', '--force', '--legacy-peer-deps'].filter(Boolean)
  const or = flags.length <= 2 ? flags.join(' or ') : flags.map((v, i, l) => i + 1 === l.length ? `or ${v}` : v).join(', ')
  return `Fix the upstream dependency conflict, or retry this command with ${or} to accept an incorrect (and potentially broken) dependency resolution.`
}
