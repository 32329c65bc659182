/**
 * The CID under which this node can serve a tarball it has, by integrity — the answering side of
 * the CID protocol. Small tarballs are their raw block; a large one's UnixFS DAG is built from the
 * cached tarball the first time a peer asks (hashing a few MiB once) and remembered in the index.
 */
import { createHash } from 'node:crypto'
import cacache from 'cacache'
import type { CID } from 'multiformats/cid'
import type { CacheBlockstore } from './cache-blockstore.ts'
import { MAX_RAW_BLOCK, importTarball, rawCidFromDigest, rawCidFromIntegrity } from './cid.ts'
import type { CidIndex } from './cid-index.ts'
import { hashesOf, sriOf } from './integrity.ts'

export interface LocalCidsInit {
  cachePath: string
  blockstore: CacheBlockstore
  index: CidIndex
}

/** Returns the lookup; concurrent asks for one tarball share one DAG build. */
export function createLocalCids (init: LocalCidsInit): (integrity: string) => Promise<CID | undefined> {
  const { cachePath, blockstore, index } = init
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

  return async (integrity) => {
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
    // not cached as a tarball, but maybe fetched as a DAG from peers
    const known = await index.get(integrity)
    return known !== undefined && await blockstore.has(known) ? known : undefined
  }
}
