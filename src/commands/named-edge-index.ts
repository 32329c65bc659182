/**
 * Arborist's tree loading from a lockfile, minus the walks that find nothing. Each node placed in
 * a tree makes its parent walk its whole subtree (`Node[_reloadNamedEdges]`) for edges of the
 * node's name that now resolve to it: on a 1,270-package monorepo, 609,492 visits per tree, a
 * quarter of a second, and `ci` over a kept node_modules loads two such trees (ideal and actual).
 * While `loadVirtual({ root })` fills a fresh root, an index of the nodes that have an edge of
 * each name is kept instead, and a walk visits only those in the subtree, in the walk's own
 * order (depth first: a node, its children, then its fsChildren), doing there what the walk
 * does there. Every other node of the walk has no such edge and is left alone by it, so the tree
 * is the same in every edge, edgesIn order and override set.
 *
 * Applied only where Arborist has the shape this was written against (the walk's source, the
 * case-insensitive keys of `edgesOut`, edges added through `addEdgeOut`); otherwise Arborist runs
 * as it is.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { squash } from './source-shape.ts'

/** An Arborist Node, as far as this reads it. */
interface ArbNode {
  root: ArbNode
  parent: ArbNode | null
  fsParent: ArbNode | null
  location: string
  inventory: Map<string, ArbNode>
  children: Map<string, ArbNode>
  fsChildren: Set<ArbNode>
  edgesOut: Map<string, ArbEdge>
  resolve(name: string): ArbNode | null
}

interface ArbEdge {
  name: string
  to: ArbNode | null
  reload(hard: boolean): void
}

type Walk = (this: ArbNode, name: string, rootLoc?: string) => void

/** `Node[_reloadNamedEdges]` of @npmcli/arborist 9, whitespace aside: what the replacement does node by node. */
const WALK_SOURCE = `[_reloadNamedEdges] (name, rootLoc = this.location) {
    const edge = this.edgesOut.get(name)
    // if we don't have an edge, do nothing, but keep descending
    const rootLocResolved = edge && edge.to &&
      edge.to.location === \`\${rootLoc}/node_modules/\${edge.name}\`
    const sameResolved = edge && this.resolve(name) === edge.to
    const recheck = rootLocResolved || !sameResolved
    if (edge && recheck) {
      edge.reload(true)
    }
    for (const c of this.children.values()) {
      c[_reloadNamedEdges](name, rootLoc)
    }

    for (const c of this.fsChildren) {
      c[_reloadNamedEdges](name, rootLoc)
    }
  }`

/** The key `edgesOut` (Arborist's case-insensitive map) files a name under. */
const normalName = (name: string): string => name.normalize('NFKD').toLowerCase()

/** What the walk does at one node: reload its edge of that name if it may resolve elsewhere now. */
function reloadAt (node: ArbNode, name: string, rootLoc: string): void {
  const edge = node.edgesOut.get(name)
  if (edge === undefined) return
  const rootLocResolved = edge.to !== null && edge.to !== undefined && edge.to.location === `${rootLoc}/node_modules/${edge.name}`
  if (rootLocResolved || node.resolve(name) !== edge.to) edge.reload(true)
}

/**
 * Chains from the walk's first node down to each node it would find an edge at, in the walk's
 * order: the first node itself, then each child's subtree in `children` order, then each
 * fsChild's in `fsChildren` order.
 */
function walkOrder (chains: ArbNode[][]): ArbNode[][] {
  // the position of each needed child among its parent's children, then fsChildren: one pass per parent
  const positions = new Map<ArbNode, Map<ArbNode, number>>()
  const wanted = new Map<ArbNode, Set<ArbNode>>()
  for (const chain of chains) {
    for (let i = 0; i + 1 < chain.length; i++) {
      let set = wanted.get(chain[i])
      if (set === undefined) wanted.set(chain[i], set = new Set())
      set.add(chain[i + 1])
    }
  }
  const position = (parent: ArbNode, child: ArbNode): number => {
    let found = positions.get(parent)
    if (found === undefined) {
      found = new Map()
      positions.set(parent, found)
      const want = wanted.get(parent)!
      let i = 0
      for (const c of parent.children.values()) {
        if (want.has(c)) found.set(c, i)
        i++
        if (found.size === want.size) break
      }
      if (found.size < want.size) {
        for (const c of parent.fsChildren) {
          if (want.has(c) && !found.has(c)) found.set(c, i)
          i++
        }
      }
    }
    return found.get(child)!
  }
  return chains.sort((a, b) => {
    const n = Math.min(a.length, b.length)
    for (let i = 1; i < n; i++) {
      if (a[i] !== b[i]) return position(a[i - 1], a[i]) - position(b[i - 1], b[i])
    }
    return a.length - b.length
  })
}

export interface NamedEdgeIndex {
  /** Whether Arborist had the shape this needs (if not, nothing was changed). */
  applied: boolean
  /** Puts Arborist's own methods back. */
  restore(): void
}

/**
 * Makes Arborist's loading of a tree from a lockfile skip the walks' empty visits, if Arborist
 * (its main file, `arboristMain`) has the expected shape.
 *
 * @example
 * installNamedEdgeIndex(require.resolve('@npmcli/arborist'))
 */
export function installNamedEdgeIndex (arboristMain: string): NamedEdgeIndex {
  const none = { applied: false, restore () {} }
  const lib = dirname(arboristMain)
  const requireLib = createRequire(arboristMain)
  let Node: { prototype: Record<string | symbol, unknown> }
  let Arborist: { prototype: Record<string, unknown> }
  try {
    if (!squash(readFileSync(join(lib, 'case-insensitive-map.js'), 'utf8')).includes("return key.normalize('NFKD').toLowerCase()")) return none
    if (!readFileSync(join(lib, 'edge.js'), 'utf8').includes('from.addEdgeOut(this)')) return none
    Node = requireLib(join(lib, 'node.js')) as typeof Node
    Arborist = requireLib(arboristMain) as typeof Arborist
  } catch {
    return none
  }
  const symbols = Object.getOwnPropertySymbols(Node.prototype).filter((s) => s.description === '_reloadNamedEdges')
  const walk = symbols.length === 1 ? Node.prototype[symbols[0]] : undefined
  const addEdgeOut = Node.prototype.addEdgeOut
  const loadVirtual = Arborist.prototype.loadVirtual
  if (typeof walk !== 'function' || squash(walk.toString()) !== squash(WALK_SOURCE) ||
      typeof addEdgeOut !== 'function' || typeof loadVirtual !== 'function') return none
  const key = symbols[0]
  const ownLoadVirtual = Object.hasOwn(Arborist.prototype, 'loadVirtual')
  const originalWalk = walk as Walk

  /** Per root being loaded: normal edge name → the nodes that have had an edge of that name. */
  const indexes = new Map<ArbNode, Map<string, Set<ArbNode>>>()
  const file = (index: Map<string, Set<ArbNode>>, node: ArbNode, name: string): void => {
    const k = normalName(name)
    let set = index.get(k)
    if (set === undefined) index.set(k, set = new Set())
    set.add(node)
  }

  Node.prototype.addEdgeOut = function (this: ArbNode, edge: ArbEdge) {
    const index = indexes.size === 0 ? undefined : indexes.get(this.root)
    if (index !== undefined) file(index, this, edge.name)
    return (addEdgeOut as (e: ArbEdge) => unknown).call(this, edge)
  }

  Node.prototype[key] = function (this: ArbNode, name: string, rootLoc: string = this.location) {
    const index = indexes.size === 0 ? undefined : indexes.get(this.root)
    if (index === undefined) return originalWalk.call(this, name, rootLoc)
    const nodes = index.get(normalName(name))
    if (nodes === undefined) return
    // the nodes of this subtree with such an edge, each with its chain up from this node
    const chains: ArbNode[][] = []
    for (const node of nodes) {
      if (node.root !== this.root) continue
      const chain = [node]
      let at: ArbNode | null | undefined = node
      while (at !== this && at !== null) {
        // a node with both kinds of parent would be walked twice: Arborist's own walk decides
        if (at.parent && at.fsParent) return originalWalk.call(this, name, rootLoc)
        at = at.parent || at.fsParent
        if (at) chain.push(at)
      }
      if (at === this) chains.push(chain.reverse())
    }
    for (const chain of chains.length > 1 ? walkOrder(chains) : chains) reloadAt(chain[chain.length - 1], name, rootLoc)
  }

  Arborist.prototype.loadVirtual = async function (this: unknown, options: { root?: ArbNode } = {}) {
    const root = options.root
    // a fresh root, alone in its tree: every node and edge that joins it is seen joining
    const fresh = root !== undefined && !indexes.has(root) && root.inventory.size === 1 && root.children.size === 0 && root.fsChildren.size === 0
    if (!fresh) return (loadVirtual as (o: unknown) => Promise<unknown>).call(this, options)
    const index = new Map<string, Set<ArbNode>>()
    for (const edge of root.edgesOut.values()) file(index, root, edge.name)
    indexes.set(root, index)
    try {
      return await (loadVirtual as (o: unknown) => Promise<unknown>).call(this, options)
    } finally {
      indexes.delete(root)
    }
  }

  return {
    applied: true,
    restore () {
      Node.prototype[key] = walk
      Node.prototype.addEdgeOut = addEdgeOut
      if (ownLoadVirtual) Arborist.prototype.loadVirtual = loadVirtual
      else delete Arborist.prototype.loadVirtual
    },
  }
}
