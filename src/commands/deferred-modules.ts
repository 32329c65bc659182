/**
 * Modules Arborist and pacote load when they are loaded but that install and ci use rarely or never,
 * loaded instead when first used:
 * - sigstore (about 130 modules: @sigstore/*, tuf-js, their protobuf specs), which pacote's
 *   `lib/registry.js` calls only to verify a registry attestation (`sigstore.verify`): about a
 *   third of what Arborist costs to load;
 * - Arborist's `lib/query-selector-all.js` (with @npmcli/query and postcss-selector-parser, 35
 *   modules), which `lib/node.js` calls only from `node.querySelectorAll()` (`npm query`);
 * - make-fetch-happen (with its agents, socks and ip-address, about 50 modules), which
 *   npm-registry-fetch only calls, and only when something is fetched from a registry (a ci
 *   whose tarballs are all in place or in the cache fetches nothing through it); and, for the
 *   same reason, npm-registry-fetch's `lib/check-response.js` (with minipass-fetch and
 *   iconv-lite, 15 modules), which it calls on every response;
 * - tar, whose functions pacote calls only to unpack (`lib/fetcher.js`: our extractor does it,
 *   see src/extract/) and to pack a folder (`lib/dir.js`).
 * Each one's place in the module cache is taken, before its user loads, by a stand-in whose
 * first use loads the real module (which takes the cache entry over) and hands the use on to it.
 *
 * Each is applied only while its user is not loaded yet and uses it as this was written
 * against (the require, then only the uses named above, made when they run); otherwise
 * nothing changes.
 */
import { readFileSync } from 'node:fs'
import { createRequire, Module } from 'node:module'
import { dirname, join } from 'node:path'

/** The module cache, as CommonJS keeps it. */
type ModuleCache = Record<string, { exports: unknown } | undefined>

const cache = createRequire(import.meta.url).cache as ModuleCache

const mentions = (source: string, pattern: string): number => source.match(new RegExp(pattern, 'g'))?.length ?? 0

/**
 * Whether `source` names `name` (as itself, outside comments) first in the line `required`, then
 * only in lines that name it once, in a `use` of it (`call`: `name(`; `method`: `name.f(`).
 */
function usedOnly (source: string, name: string, required: string, use: 'call' | 'method'): boolean {
  const itself = `(?<![.\\w$'"\`-])${name}(?![\\w$'"\`-])`
  const used = new RegExp(use === 'call' ? `${itself}\\(` : `${itself}\\.[A-Za-z_$][\\w$]*\\(`)
  const naming = source.replace(/\/\*[^]*?\*\//g, '').split('\n').filter((line) => mentions(line, itself) > 0 && !/^\s*\/\//.test(line))
  return naming.length >= 2 && naming[0] === required && naming.slice(1).every((line) => mentions(line, itself) === 1 && used.test(line))
}

/**
 * Puts a stand-in for `file` in the module cache, its exports made by `standIn` from a loader
 * of the real module.
 */
function defer (file: string, standIn: (load: () => unknown) => unknown): void {
  const stand = new Module(file)
  stand.filename = file
  stand.loaded = true
  let real: unknown
  let loaded = false
  stand.exports = standIn(() => {
    if (!loaded) {
      // the real module takes the cache entry: whoever requires it from now on gets it
      if (cache[file] === stand) delete cache[file]
      real = createRequire(file)(file)
      loaded = true
    }
    return real
  })
  cache[file] = stand
}

/** The stand-in for a module that is a function its users only call. */
const calledStandIn = (load: () => unknown): unknown => function (this: unknown, ...args: unknown[]): unknown {
  return (load() as (...a: unknown[]) => unknown).apply(this, args)
}

/** The stand-in for a module whose properties its users read only when they use them: any read loads the real module. */
const readStandIn = (load: () => unknown): unknown => new Proxy({}, {
  get: (_, key) => (load() as Record<string | symbol, unknown>)[key],
  has: (_, key) => key in (load() as object),
})

/** npm-registry-fetch's lib/check-response.js, for the npm-registry-fetch whose main file is `registryFetchMain`. */
function deferCheckResponse (registryFetchMain: string): boolean {
  const file = join(dirname(registryFetchMain), 'check-response.js')
  try {
    if (cache[registryFetchMain] !== undefined || cache[file] !== undefined) return false
    if (!usedOnly(readFileSync(registryFetchMain, 'utf8'), 'checkResponse', "const checkResponse = require('./check-response.js')", 'call') ||
      !/^module\.exports = checkResponse$/m.test(readFileSync(file, 'utf8'))) return false
  } catch {
    return false
  }
  defer(file, calledStandIn)
  return true
}

/** tar, for the pacote whose main file is `pacoteMain`: its lib/fetcher.js and lib/dir.js call its functions. */
function deferTar (pacoteMain: string): boolean {
  const users = ['fetcher.js', 'dir.js'].map((name) => join(dirname(pacoteMain), name))
  let file: string
  try {
    if (cache[pacoteMain] !== undefined || users.some((user) => cache[user] !== undefined)) return false
    if (!users.every((user) => usedOnly(readFileSync(user, 'utf8'), 'tar', "const tar = require('tar')", 'method'))) return false
    file = createRequire(users[0]).resolve('tar')
    if (createRequire(users[1]).resolve('tar') !== file) return false
  } catch {
    return false
  }
  if (cache[file] !== undefined) return false
  // pacote reads `tar.x` / `tar.c` when it calls them: any property read loads the real module
  defer(file, readStandIn)
  return true
}

export interface DeferredModules {
  /** Whether sigstore was deferred. */
  sigstore: boolean
  /** Whether Arborist's query-selector-all was deferred. */
  querySelectorAll: boolean
  /** Whether npm-registry-fetch's make-fetch-happen was deferred. */
  makeFetchHappen: boolean
  /** Whether npm-registry-fetch's lib/check-response.js was deferred. */
  checkResponse: boolean
  /** Whether pacote's tar was deferred. */
  tar: boolean
}

/** sigstore, for the pacote whose main file is `pacoteMain`. */
function deferSigstore (pacoteMain: string): boolean {
  const registryJs = join(pacoteMain, '..', 'registry.js')
  let file: string
  try {
    if (cache[pacoteMain] !== undefined || cache[registryJs] !== undefined) return false
    const source = readFileSync(registryJs, 'utf8')
    // the require names sigstore twice (the binding, the module); every other mention must be a call of verify
    const calls = mentions(source, '\\bsigstore\\.verify\\(')
    if (!/^const sigstore = require\('sigstore'\)$/m.test(source) || calls < 1 || mentions(source, '\\bsigstore\\b') !== 2 + calls) return false
    file = createRequire(registryJs).resolve('sigstore')
  } catch {
    return false
  }
  if (cache[file] !== undefined) return false
  // pacote reads `sigstore.verify` when it calls it: any property read loads the real module
  defer(file, readStandIn)
  return true
}

/** Arborist's lib/query-selector-all.js, for the Arborist whose main file is `arboristMain`. */
function deferQuerySelectorAll (arboristMain: string): boolean {
  const lib = join(arboristMain, '..')
  const nodeJs = join(lib, 'node.js')
  const file = join(lib, 'query-selector-all.js')
  try {
    if (cache[nodeJs] !== undefined || cache[file] !== undefined) return false
    const user = readFileSync(nodeJs, 'utf8')
    // the require, the method `querySelectorAll (query, opts)` calling it, comments: nothing else may name it
    const known = [/^const querySelectorAll = require\('\.\/query-selector-all\.js'\)$/, /^\s*querySelectorAll \(query, opts\) \{$/, /^\s*return querySelectorAll\(this, query, opts\)$/]
    const naming = user.split('\n').filter((line) => line.includes('querySelectorAll') && !/^\s*\/\//.test(line))
    if (naming.length !== known.length || !known.every((shape, i) => shape.test(naming[i])) ||
      !/^module\.exports = querySelectorAll$/m.test(readFileSync(file, 'utf8'))) return false
  } catch {
    return false
  }
  defer(file, calledStandIn)
  return true
}

/** make-fetch-happen, for the npm-registry-fetch whose main file is `registryFetchMain`. */
function deferMakeFetchHappen (registryFetchMain: string): boolean {
  let file: string
  try {
    if (cache[registryFetchMain] !== undefined) return false
    // the require, then calls only: `fetch` named nowhere else as itself (`doFetch`, `fetchBody`, `.fetchRetries` are other names)
    if (!usedOnly(readFileSync(registryFetchMain, 'utf8'), 'fetch', "const fetch = require('make-fetch-happen')", 'call')) return false
    file = createRequire(registryFetchMain).resolve('make-fetch-happen')
  } catch {
    return false
  }
  if (cache[file] !== undefined) return false
  defer(file, calledStandIn)
  return true
}

/**
 * Defers what it can of the above, for the Arborist whose main file is `arboristMain` (and the
 * pacote it requires), before Arborist is loaded.
 *
 * @example
 * deferModules(require.resolve('@npmcli/arborist'))
 * const Arborist = require('@npmcli/arborist')
 */
export function deferModules (arboristMain: string): DeferredModules {
  let pacoteMain: string | undefined
  try {
    pacoteMain = createRequire(arboristMain).resolve('pacote')
  } catch {}
  let registryFetchMain: string | undefined
  try {
    if (pacoteMain !== undefined) registryFetchMain = createRequire(pacoteMain).resolve('npm-registry-fetch')
  } catch {}
  return {
    sigstore: pacoteMain !== undefined && deferSigstore(pacoteMain),
    querySelectorAll: deferQuerySelectorAll(arboristMain),
    makeFetchHappen: registryFetchMain !== undefined && deferMakeFetchHappen(registryFetchMain),
    checkResponse: registryFetchMain !== undefined && deferCheckResponse(registryFetchMain),
    tar: pacoteMain !== undefined && deferTar(pacoteMain),
  }
}
