/**
 * Our extraction under Arborist (DESIGN step 7). Arborist's reify unpacks every package with
 * `pacote.extract` on the shared `pacote` module; while a reify runs, that function is ours for
 * the registry tarballs of the plan: it waits for its own tarball only (fetched by the fetch
 * phase, verified), takes the bytes in process, and unpacks them on the worker pool. Git,
 * `file:`, directory and remote specs, and any tarball our reader leaves aside, keep pacote's path.
 */
import { readdirSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { TarballCache, TarballRef } from '../types.ts'
import type { ExtractPool } from './pool.ts'
import type { UnpackResult } from './unpack.ts'
import type { PreviousTree } from './previous-tree.ts'

const require = createRequire(import.meta.url)

type Extract = (spec: string, dest: string, opts: Record<string, unknown>) => Promise<unknown>

/** Where the extractor gets tarballs: the fetch phase. */
export interface TarballSource {
  /** The registry tarball reify will unpack into `dest`, when the plan has one there. */
  planned(dest: string): TarballRef | undefined
  /** Settles once `ref` can be read without waiting on the network (or its fetch has failed). */
  ready(ref: TarballRef): Promise<void>
  /**
   * The verified bytes of `ref`, the caller's own (the pool moves them to a worker); throws the
   * fetch's error (npm's `ENOTCACHED` offline).
   */
  read(ref: TarballRef): Promise<Uint8Array>
  /** The size of `ref`'s bytes while they wait in memory to be read, else undefined. */
  size(ref: TarballRef): number | undefined
  /** Whether this run fetched `ref` (npm would have read it from its source, not from its cache). */
  fetched(ref: TarballRef): boolean
  /** Whether this run fetched `ref` from the registry (as npm would have), not from peers. */
  fromRegistry(ref: TarballRef): boolean
}

export interface ExtractorInit {
  /** The `pacote` module Arborist uses. */
  pacote: { extract: Extract }
  pool: ExtractPool
  source: TarballSource
  /** The tree a `ci` replaces, whose unchanged files are moved back instead of written. */
  previous?: PreviousTree
  /**
   * npm's cache, whose files the workers read and verify themselves for the tarballs this run
   * did not fetch; `counted` hears of each read that way (the source counts the others).
   */
  cache?: { file: TarballCache['file'], counted(ref: TarballRef): void }
}

type PackageContents = (opts: { path: string, depth: number }) => Promise<Set<string> | string[]>
let packageContents: PackageContents | undefined

/** pacote's own emptying of a package folder (`#empty`): its files, not its node_modules. */
async function emptyLikePacote (dest: string): Promise<void> {
  packageContents ??= createRequire(require.resolve('pacote'))('@npmcli/installed-package-contents') as PackageContents
  await Promise.all([...await packageContents({ path: dest, depth: 1 })].map((entry) => rm(entry, { recursive: true, force: true })))
  await mkdir(dest, { recursive: true })
}

/**
 * Whether `dest` needs pacote's emptying (which also creates it): not when it is there holding
 * nothing or nested packages only — Arborist made every folder of its tree before unpacking (its
 * sparse tree), and without a package.json there are no bins or bundled dependencies of its own
 * to remove. One synchronous read: the emptying's asynchronous reads waited behind the fetch
 * phase's cache writes in libuv's four threads, 40-140 ms a tarball while peers sent, with 4
 * tarballs at a time in the pool (extraction fell behind the fetches).
 */
function needsEmptying (dest: string): boolean {
  try {
    return readdirSync(dest).some((name) => name !== 'node_modules')
  } catch {
    return true
  }
}

/**
 * Takes over `pacote.extract` until the returned `restore()`.
 *
 * @example
 * const extractor = installExtractor({ pacote: require('pacote'), pool, source: fetchPhase })
 * try { await arb.reify(options) } finally { extractor.restore() }
 */
export function installExtractor (init: ExtractorInit): { restore(): void } {
  const { pacote, pool, source, previous, cache } = init
  const processUmask = process.umask()
  const original = pacote.extract

  const extract: Extract = async (spec, dest, opts) => {
    const ref = source.planned(dest)
    // only with `resolved` does pacote unpack without reading the manifest (which would mark bins executable)
    if (ref === undefined || !opts.resolved || opts.integrity !== ref.integrity) return original(spec, dest, opts)
    await source.ready(ref)
    let unreadable: unknown
    let fromCache = false
    const unpackFrom = (cacheFile: boolean): Promise<UnpackResult> => pool.run(async () => {
      const file = cacheFile && cache !== undefined && !source.fetched(ref) ? await cache.file(ref.integrity) : undefined
      fromCache = file !== undefined
      const tarball = file ?? await source.read(ref).catch((err: unknown) => { throw (unreadable = err) })
      if (needsEmptying(dest)) await emptyLikePacote(dest)
      return {
        dest,
        tarball,
        previous: previous?.at(dest),
        processUmask,
        fmode: Number(opts.fmode) || 0o666,
        umask: Number(opts.umask) || 0,
        allowGitIgnore: !!opts.allowGitIgnore,
      }
    }, source.size(ref))
    let result
    try {
      result = await unpackFrom(true)
      // a cache file gone or damaged since: the source's way, which fetches it again
      if ('unread' in result) result = await unpackFrom(false)
    } catch (err) {
      // the fetch's failure is reify's (an optional package is skipped, as npm skips it); offline
      // and not cached, or anything the workers could not write, pacote's path says as npm does
      if (err === unreadable && (err as NodeJS.ErrnoException).code !== 'ENOTCACHED') throw err
      return original(spec, dest, opts)
    }
    // from the cache either way: pacote reads an unusual one there by digest too
    if (fromCache) cache?.counted(ref)
    // pacote then meets the tarball where npm would have: not in the cache if this run fetched it
    // from the registry; one from peers it reads from the cache (the registry may be dead)
    if ('unusual' in result) return original(spec, dest, source.fromRegistry(ref) ? { ...opts, preferOnline: true } : opts)
    return { resolved: opts.resolved, integrity: opts.integrity, from: spec }
  }

  pacote.extract = extract
  return {
    restore () {
      if (pacote.extract === extract) pacote.extract = original
    },
  }
}
