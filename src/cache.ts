/**
 * npm's content cache (cacache) as tarball storage. pacote looks tarballs up by digest, so a
 * tarball written here under every algorithm of its lockfile integrity is one Arborist extracts
 * without a request. sha512 is always written too: it is the digest peers ask for.
 */
import { createHash, randomUUID } from 'node:crypto'
import { statSync } from 'node:fs'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { npmError } from './errors.ts'
import { ALGORITHMS, isVerified } from './integrity.ts'
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
  /** cacache's own tmp folder (it cleans it in `npm cache verify`), made once per run. */
  let tmpDir: Promise<string> | undefined
  const tmp = async (): Promise<string> => {
    tmpDir ??= mkdir(join(cachePath, 'tmp'), { recursive: true }).then(() => join(cachePath, 'tmp'))
    return await tmpDir.catch((err: unknown) => {
      tmpDir = undefined
      throw err
    })
  }
  /**
   * The content file as cacache writes it (written aside, then renamed into place): cacache's
   * own put hashes the bytes once more and costs twice the file operations, ~12 per tarball.
   */
  const writeContent = async (sri: string, data: Uint8Array): Promise<void> => {
    const target = join(await tmp(), randomUUID())
    const destination = contentPath(cachePath, sri)
    try {
      await writeFile(target, data, { flag: 'wx' })
      await mkdir(dirname(destination), { recursive: true })
      await rename(target, destination)
    } catch (err) {
      await rm(target, { force: true })
      throw err
    }
  }

  return {
    async has (integrity) {
      // cacache's hasContent looks at the strongest algorithm's digests, as here. A stat each,
      // synchronous and without throwing: the fetch phase asks for every tarball of the plan
      // before its first fetch, and cacache's throws an ENOENT error for each one absent (the
      // monorepo's 1,127 into an empty cache: 35-50 ms of CPU and 55-87 ms before the answer,
      // against 7-19 and 11-23 ms)
      const parsed = ssri.parse(integrity)
      // null for an integrity with no hash in it (a malformed lockfile)
      if (parsed === null) return false
      return parsed[parsed.pickAlgorithm()]!.some((hash) => statSync(contentPath(cachePath, hash.toString()), { throwIfNoEntry: false }) !== undefined)
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
      if (parsed === null) throw integrityError(ref, 'its source')
      const algorithms = ALGORITHMS.filter((algorithm) => algorithm === 'sha512' || parsed[algorithm] !== undefined)
      // bytes this process checked against every hash of this integrity (a peer's, by the
      // fetcher) are filed under its digests as they are: hashing the monorepo's 178 MB again
      // cost ~0.2 s of the main thread. Only a missing sha512 is computed.
      const known = isVerified(data, ref.integrity)
      // else one hash per algorithm, the strongest checked as ssri checks (the only hash of sha512)
      const digests = new Map(algorithms.map((algorithm) => [algorithm, (known ? parsed[algorithm]?.[0]?.digest : undefined) ?? createHash(algorithm).update(data).digest('base64')]))
      if (!known) {
        const strongest = parsed.pickAlgorithm()
        const digest = digests.get(strongest as typeof algorithms[number])
        const matches = digest === undefined ? ssri.checkData(data, parsed) !== false : parsed[strongest]!.some((hash) => hash.digest === digest)
        if (!matches) throw integrityError(ref, 'its source')
      }
      const url = ref.resolved ?? (init.registryFor === undefined ? undefined : registryTarballUrl(init.registryFor(ref.name), ref.name, ref.version))
      // filed under each digest, with an index entry each, as cacache.put({ algorithms: [one] }) files it
      for (const [algorithm, base64] of digests) {
        const sri = `${algorithm}-${base64}`
        await writeContent(sri, data)
        await cacache.index.insert(cachePath, `ipfs-npm:tarball:${algorithm}:${ref.name}@${ref.version}`, sri, { metadata: { url }, size: data.length })
      }
    },
  }
}
