/**
 * The CID under which this node can serve a tarball it has, by integrity — the answering side of
 * the CID protocol. Small tarballs are their raw block; a large one's UnixFS DAG is built from the
 * cached tarball the first time a peer asks (hashing a few MiB once) and remembered in the index.
 * An integrity the cache does not key content by (a sha1-only lock entry: npm stores the tarball
 * under sha512) is found through the asked package version's cache entries, then checked.
 */
import { createHash } from 'node:crypto'
import cacache from 'cacache'
import type { CID } from 'multiformats/cid'
import type { CacheBlockstore } from './cache-blockstore.ts'
import { MAX_RAW_BLOCK, importTarball, rawCidFromDigest, rawCidFromIntegrity } from './cid.ts'
import type { CidIndex } from './cid-index.ts'
import { MAX_TARBALL } from './fetch-dag.ts'
import { hashesOf, matchesIntegrity, sriOf } from './integrity.ts'
import type { PackageId, PackageTarballs } from './package-tarballs.ts'

export interface LocalCidsInit {
  cachePath: string
  blockstore: CacheBlockstore
  index: CidIndex
  /** Finds a package version's tarball when the asked digest is not how the cache keys it. */
  packageTarballs: PackageTarballs
}

/** Looks an integrity up; `pkg` (when the asker named it) is the fallback for sha1-only asks. */
export type LocalCids = (integrity: string, pkg?: PackageId) => Promise<CID | undefined>

/** Returns the lookup; concurrent asks for one tarball share one DAG build. */
export function createLocalCids (init: LocalCidsInit): LocalCids {
  const { cachePath, blockstore, index, packageTarballs } = init
  const building = new Map<string, Promise<CID>>()

  const buildDag = async (integrity: string): Promise<CID> => {
    const sha512 = createHash('sha512')
    const hashing = (async function * () {
      for await (const chunk of cacache.get.stream.byDigest(cachePath, integrity) as AsyncIterable<Buffer>) {
        sha512.update(chunk)
        yield chunk
      }
    })()
    const root = await importTarball(hashing, blockstore)
    // record under the tarball's sha512 too, so asks by a full modern integrity find it
    await index.set(`${integrity} sha512-${sha512.digest('base64')}`, root)
    return root
  }

  const byDigest = async (integrity: string): Promise<CID | undefined> => {
    for (const hash of hashesOf(integrity)) {
      const single = sriOf(hash)
      const info = await cacache.get.hasContent(cachePath, single)
      if (info === false) continue
      if (info.size <= MAX_RAW_BLOCK) {
        if (hash.algorithm === 'sha512') return rawCidFromIntegrity(single)
        // cached under another digest only (sha1 locks): serve it under its raw sha512 CID
        const cid = rawCidFromDigest(createHash('sha512').update(await cacache.get.byDigest(cachePath, single)).digest())
        blockstore.alias(cid, single)
        return cid
      }
      const known = await index.get(single)
      if (known !== undefined) return known
      let build = building.get(single)
      if (build === undefined) {
        build = buildDag(single).finally(() => building.delete(single))
        building.set(single, build)
      }
      return await build
    }
    return undefined
  }

  /**
   * The package's cached tarball that matches `integrity`, checked here: the index entries only
   * say what npm stored for that name and version, not that it is the tarball asked for.
   */
  const byPackage = async (integrity: string, pkg: PackageId): Promise<CID | undefined> => {
    for (const candidate of await packageTarballs(pkg)) {
      const info = await cacache.get.hasContent(cachePath, candidate)
      if (info === false || info.size > MAX_TARBALL) continue
      if (!matchesIntegrity(await cacache.get.byDigest(cachePath, candidate), integrity)) continue
      const cid = await byDigest(candidate)
      // remember it under the asked digest, so the next ask skips the package lookup
      if (cid !== undefined) await index.set(`${integrity} ${candidate}`, cid)
      return cid
    }
    return undefined
  }

  return async (integrity, pkg) => {
    const cid = await byDigest(integrity)
    if (cid !== undefined) return cid
    // not cached as a tarball, but maybe fetched as a DAG from peers, or found by package before
    const known = await index.get(integrity)
    if (known !== undefined && await blockstore.has(known)) return known
    return pkg === undefined ? undefined : await byPackage(integrity, pkg)
  }
}
