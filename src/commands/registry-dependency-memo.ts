/**
 * Arborist's `node.isRegistryDependency` parses the spec of every edge into the node
 * (npm-package-arg) to ask whether it is a registry spec, each time it is read; writing a
 * lockfile reads it for every node (`Shrinkwrap.metaFromNode`): 2,294 edges and 597 distinct
 * specs on the 1,270-package monorepo, about 50 ms of the main thread of `ci`. Whether a spec
 * is a registry one depends on the spec alone, so each spec's answer is kept here; a spec
 * npm-package-arg rejects is parsed again each time, so the getter throws as Arborist's does.
 *
 * Applied only where the getter is the one this was written against (its source, whitespace
 * aside); otherwise Arborist runs as it is.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { squash } from './source-shape.ts'

/** `Node#isRegistryDependency` of @npmcli/arborist 9, whitespace aside. */
const GETTER_SOURCE = `get isRegistryDependency () {
    if (this.edgesIn.size === 0) {
      return false
    }
    for (const edge of this.edgesIn) {
      if (!npa(edge.spec).registry) {
        return false
      }
    }
    return true
  }`

export interface RegistryDependencyMemo {
  /** Whether the getter was the expected one (if not, nothing was changed). */
  applied: boolean
  /** Puts Arborist's own getter back and forgets the answers. */
  restore(): void
}

/**
 * Makes `isRegistryDependency` of the Arborist whose main file is `arboristMain` keep each
 * spec's answer.
 *
 * @example
 * const memo = memoizeRegistryDependency(require.resolve('@npmcli/arborist'))
 * try { await arb.reify() } finally { memo.restore() }
 */
export function memoizeRegistryDependency (arboristMain: string): RegistryDependencyMemo {
  const none = { applied: false, restore () {} }
  const nodeJs = join(dirname(arboristMain), 'node.js')
  let proto: object
  let npa: (spec: unknown) => { registry?: boolean }
  try {
    // the getter's `npa` is the module node.js requires under that name
    if (!/^const npa = require\('npm-package-arg'\)$/m.test(readFileSync(nodeJs, 'utf8'))) return none
    const requireLib = createRequire(nodeJs)
    proto = (requireLib(nodeJs) as { prototype: object }).prototype
    npa = requireLib('npm-package-arg') as typeof npa
  } catch {
    return none
  }
  const own = Object.getOwnPropertyDescriptor(proto, 'isRegistryDependency')
  if (own?.get === undefined || own.set !== undefined || squash(own.get.toString()) !== squash(GETTER_SOURCE)) return none
  const answers = new Map<string, boolean>()
  const registry = (spec: unknown): boolean => {
    if (typeof spec !== 'string') return !!npa(spec).registry
    let answer = answers.get(spec)
    if (answer === undefined) {
      answer = !!npa(spec).registry
      answers.set(spec, answer)
    }
    return answer
  }
  Object.defineProperty(proto, 'isRegistryDependency', {
    ...own,
    get (this: { edgesIn: Set<{ spec: unknown }> }) {
      if (this.edgesIn.size === 0) return false
      for (const edge of this.edgesIn) {
        if (!registry(edge.spec)) return false
      }
      return true
    },
  })
  return {
    applied: true,
    restore () {
      Object.defineProperty(proto, 'isRegistryDependency', own)
      answers.clear()
    },
  }
}
