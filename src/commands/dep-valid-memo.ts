/**
 * Arborist's `dep-valid.js` answers whether a node satisfies an edge's spec: it parses the
 * requesting node's `resolved` (the folder a file spec is relative to) and the spec
 * (npm-package-arg), then, for a registry range or version, asks semver. Building the ideal tree
 * of the 1,270-package monorepo asks it 2,288 times for 1,429 distinct (name, spec, version)
 * triples. For a registry range or version the answer depends on nothing but the name, the spec
 * and the node's version (`semver.satisfies(version, fetchSpec, true)`; the folder only matters
 * for file and directory specs), so those answers are kept here; every other kind of spec, a
 * spec or `resolved` npm-package-arg rejects (dep-valid records that on the requesting node)
 * goes to Arborist's own function.
 *
 * Applied only to the `dep-valid.js` this was written against (its source, whitespace aside,
 * hashed), and only before Arborist's `edge.js` has taken its reference to it.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { squash } from './source-shape.ts'

/** sha256 of @npmcli/arborist 9's lib/dep-valid.js, whitespace runs squashed to one space. */
const DEP_VALID_SHA256 = 'db89446db296772aaad9baac3954493aa336de381f2c71982989c68be78be6b2'

/** The module cache, as CommonJS keeps it. */
type ModuleCache = Record<string, { exports: unknown } | undefined>

const cache = createRequire(import.meta.url).cache as ModuleCache
const cached = (file: string): { exports: unknown } | undefined => cache[file]

type DepValid = (child: { name: string, version?: unknown }, requested: unknown, accept: unknown, requestor: unknown) => boolean

/** What npm-package-arg's `resolve` gives, as far as this reads it. */
interface Spec { type: string, fetchSpec: string | null }

const CONTROL = Symbol('ipfs-npm dep-valid memo')

interface Control {
  on: boolean
  /** name \0 spec → the registry range or version it is, or null when Arborist must decide. */
  specs: Map<string, string | null>
  /** fetchSpec \0 version → semver's answer. */
  answers: Map<string, boolean>
  /** A requestor's `resolved` → whether npm-package-arg parses it. */
  resolved: Map<string, boolean>
}

export interface DepValidMemo {
  /** Whether the memo is in place (if not, nothing was changed). */
  applied: boolean
  /** Makes Arborist's own function answer again, and forgets the answers. */
  restore(): void
}

/**
 * Makes Arborist's dep-valid answer registry specs from memory, if `dep-valid.js` of the
 * Arborist whose main file is `arboristMain` is the expected one and `edge.js` is not loaded yet.
 *
 * @example
 * memoizeDepValid(require.resolve('@npmcli/arborist'))
 * const Arborist = require('@npmcli/arborist')
 */
export function memoizeDepValid (arboristMain: string): DepValidMemo {
  const none = { applied: false, restore () {} }
  const lib = dirname(arboristMain)
  const file = join(lib, 'dep-valid.js')
  const installed = (cached(file)?.exports as { [CONTROL]?: Control } | undefined)?.[CONTROL]
  const control = installed ?? { on: true, specs: new Map(), answers: new Map(), resolved: new Map() }
  const restore = (): void => {
    control.on = false
    control.specs.clear()
    control.answers.clear()
    control.resolved.clear()
  }
  if (installed !== undefined) {
    control.on = true
    return { applied: true, restore }
  }
  let real: DepValid
  let entry: { exports: unknown } | undefined
  let npa: { (arg: string): unknown, resolve(name: string, spec: string): Spec }
  let semver: { satisfies(version: string, range: string, loose: boolean): boolean }
  try {
    if (cached(join(lib, 'edge.js')) !== undefined || cached(file) !== undefined) return none
    const source = squash(readFileSync(file, 'utf8'))
    if (createHash('sha256').update(source).digest('hex') !== DEP_VALID_SHA256) return none
    const requireLib = createRequire(file)
    npa = requireLib('npm-package-arg') as typeof npa
    semver = requireLib('semver') as typeof semver
    real = requireLib(file) as DepValid
    entry = cached(file)
  } catch {
    return none
  }
  if (typeof real !== 'function' || entry === undefined) return none

  /** The registry range or version `spec` is for `name` (dep-valid's `'' is '*'`), or null. */
  const registrySpec = (name: string, spec: string): string | null => {
    const key = `${name}\0${spec}`
    let fetchSpec = control.specs.get(key)
    if (fetchSpec === undefined) {
      try {
        const parsed = npa.resolve(name, spec || '*')
        fetchSpec = (parsed.type === 'range' || parsed.type === 'version') && typeof parsed.fetchSpec === 'string' ? parsed.fetchSpec : null
      } catch {
        // Arborist's own function records the error on the requesting node
        fetchSpec = null
      }
      control.specs.set(key, fetchSpec)
    }
    return fetchSpec
  }
  /**
   * Whether dep-valid's `fromPath(requestor, …)` (the folder a spec is resolved from) gives a
   * folder rather than an error, which dep-valid records on the requestor: a Node whose
   * `resolved`, if any, npm-package-arg parses.
   */
  const resolvable = (requestor: unknown): boolean => {
    if (typeof requestor !== 'object' || requestor === null) return false
    const { edgesOut, resolved } = requestor as { edgesOut?: { get?: unknown }, resolved?: unknown }
    if (typeof edgesOut?.get !== 'function') return false
    if (!resolved) return true
    if (typeof resolved !== 'string') return false
    let parses = control.resolved.get(resolved)
    if (parses === undefined) {
      try {
        npa(resolved)
        parses = true
      } catch {
        parses = false
      }
      control.resolved.set(resolved, parses)
    }
    return parses
  }
  /** dep-valid's answer for one spec, or undefined when only Arborist's own function may give it. */
  const known = (child: { name: string, version?: unknown }, spec: unknown): boolean | undefined => {
    if (typeof spec !== 'string' || typeof child.name !== 'string' || typeof child.version !== 'string') return undefined
    const fetchSpec = registrySpec(child.name, spec)
    if (fetchSpec === null) return undefined
    if (fetchSpec === '*') return true
    const key = `${fetchSpec}\0${child.version}`
    let answer = control.answers.get(key)
    if (answer === undefined) {
      answer = semver.satisfies(child.version, fetchSpec, true)
      control.answers.set(key, answer)
    }
    return answer
  }
  const memo: DepValid = (child, requested, accept, requestor) => {
    if (!control.on || !resolvable(requestor)) return real(child, requested, accept, requestor)
    // dep-valid: the requested spec, else the accepted one when there is one
    const first = known(child, requested)
    if (first === true) return true
    if (first === false) {
      if (typeof accept !== 'string') return false
      const second = known(child, accept)
      if (second !== undefined) return second
    }
    return real(child, requested, accept, requestor)
  }
  Object.defineProperty(memo, CONTROL, { value: control })
  entry.exports = memo
  return { applied: true, restore }
}
