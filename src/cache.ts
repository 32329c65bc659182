/**
 * npm's content cache (cacache) as tarball storage. pacote looks tarballs up by digest, so a
 * tarball written here under every algorithm of its lockfile integrity is one Arborist extracts
 * without a request. sha512 is always written too: it is the digest peers ask for.
 */
import { createRequire } from 'node:module'
import { npmError } from './errors.ts'
import { ALGORITHMS } from './integrity.ts'
import { registryTarballUrl } from './tarball-url.ts'
import type { TarballCache, TarballRef } from './types.ts'

const require = createRequire(import.meta.url)

/** An `EINTEGRITY` error as npm reports it. */
export function integrityError (ref: TarballRef, source: string): Error {
  return npmError('EINTEGRITY', `Integrity check failed for ${ref.name}@${ref.version} from ${source}: the bytes do not match ${ref.integrity}`)
}

/**
 * @param init.cachePath npm's content cache, `<cache>/_cacache`
 * @param init.registryFor the registry npm fetches a package from: the URL a tarball stored
 *   without `resolved` stands for (unknown without it, and so never shared outside a swarm)
 *
 * @example
 * const cache = createTarballCache({ cachePath: join(config.get('cache'), '_cacache') })
 * if (!await cache.has(ref.integrity)) await cache.put(ref, bytes)
 */
export function createTarballCache (init: { cachePath: string, registryFor?: (name: string) => string }): TarballCache {
  const cacache = require('cacache') as typeof import('cacache')
  const ssri = require('ssri') as typeof import('ssri')
  // where cacache files content (`content-v2/<algorithm>/…`); the package has no exports map
  const contentPath = require('cacache/lib/content/path') as (cache: string, integrity: string) => string
  const { cachePath } = init

  return {
    async has (integrity) {
      // cacache throws a TypeError for an integrity with no hash in it (a malformed lockfile)
      if (ssri.parse(integrity) === null) return false
      return (await cacache.get.hasContent(cachePath, integrity)) !== false
    },
    async get (integrity) {
      if (ssri.parse(integrity) === null) return undefined
      try {
        // a view of cacache's buffer: a copy cost the monorepo's warm install 0.3 s of the main thread
        const data = await cacache.get.byDigest(cachePath, integrity)
        return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      } catch (err) {
        // absent, or a corrupt entry cacache refused to return: either way not a source
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ENOENT' || code === 'EINTEGRITY') return undefined
        throw err
      }
    },
    async file (integrity) {
      if (ssri.parse(integrity) === null) return undefined
      const found = await cacache.get.hasContent(cachePath, integrity)
      if (found === false) return undefined
      const sri = found.sri.toString()
      return { path: contentPath(cachePath, sri), sri }
    },
    async put (ref, data) {
      const parsed = ssri.parse(ref.integrity)
      if (parsed === null || ssri.checkData(data, parsed) === false) throw integrityError(ref, 'its source')
      const algorithms = ALGORITHMS.filter((algorithm) => algorithm === 'sha512' || parsed[algorithm] !== undefined)
      const url = ref.resolved ?? (init.registryFor === undefined ? undefined : registryTarballUrl(init.registryFor(ref.name), ref.name, ref.version))
      // one write per algorithm: cacache files content under one digest per write
      for (const algorithm of algorithms) {
        await cacache.put(cachePath, `ipfs-npm:tarball:${algorithm}:${ref.name}@${ref.version}`, data, { algorithms: [algorithm], metadata: { url } })
      }
    },
  }
}
