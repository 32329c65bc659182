/**
 * pacote loads sigstore (about 130 modules: @sigstore/*, tuf-js, their protobuf specs) when it
 * is itself loaded, and calls it only to verify a registry attestation (`sigstore.verify`, with
 * `--verify-attestations`-style options that install and ci never set). That load is about a
 * third of what Arborist costs to load, on the main thread of every install. Here sigstore's
 * place in the module cache is taken, before pacote loads, by a stand-in whose first use loads
 * the real sigstore and hands everything on to it.
 *
 * Applied only while pacote is not loaded yet and its `lib/registry.js` uses sigstore as this
 * was written against (one `const sigstore = require('sigstore')`, then only `sigstore.verify(`
 * calls, made when they run); otherwise nothing changes.
 */
import { readFileSync } from 'node:fs'
import { createRequire, Module } from 'node:module'
import { join } from 'node:path'

/** The module cache, as CommonJS keeps it. */
type ModuleCache = Record<string, { exports: unknown } | undefined>

/** What pacote's `lib/registry.js` must say for the stand-in to be exactly enough. */
function usesOnlyVerify (source: string): boolean {
  // the require names sigstore twice (the binding, the module); every other mention must be a call of verify
  const mentions = source.match(/\bsigstore\b/g) ?? []
  const calls = source.match(/\bsigstore\.verify\(/g) ?? []
  return /^const sigstore = require\('sigstore'\)$/m.test(source) && calls.length >= 1 && mentions.length === 2 + calls.length
}

export interface DeferredSigstore {
  /** Whether the stand-in took sigstore's place. */
  applied: boolean
}

/**
 * Puts the stand-in in the module cache for the pacote that `pacoteMain` (its resolved main
 * file) is, if that pacote has the expected shape and is not loaded yet.
 *
 * @example
 * deferSigstore(createRequire(require.resolve('@npmcli/arborist')).resolve('pacote'))
 */
export function deferSigstore (pacoteMain: string): DeferredSigstore {
  const none = { applied: false }
  const cache = createRequire(import.meta.url).cache as ModuleCache
  const registryJs = join(pacoteMain, '..', 'registry.js')
  let file: string
  try {
    if (cache[pacoteMain] !== undefined || cache[registryJs] !== undefined) return none
    if (!usesOnlyVerify(readFileSync(registryJs, 'utf8'))) return none
    file = createRequire(registryJs).resolve('sigstore')
  } catch {
    return none
  }
  if (cache[file] !== undefined) return none
  const stand = new Module(file)
  stand.filename = file
  stand.loaded = true
  let real: Record<string | symbol, unknown> | undefined
  const load = (): Record<string | symbol, unknown> => {
    if (real === undefined) {
      // the real module takes the cache entry: whoever requires sigstore from now on gets it
      if (cache[file] === stand) delete cache[file]
      real = createRequire(file)(file) as Record<string | symbol, unknown>
    }
    return real
  }
  stand.exports = new Proxy({}, {
    get: (_, key) => load()[key],
    has: (_, key) => key in load(),
  })
  cache[file] = stand
  return { applied: true }
}
