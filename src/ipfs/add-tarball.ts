/**
 * The CID a tarball is published under, for `publish` and `pin`: its raw sha2-512 CID when it is
 * one block, else the root of its `unixfs-v1-2025` DAG, whose blocks are written into npm's cache
 * (the blockstore) and whose root is remembered under the tarball's integrity, so this node serves
 * it to anyone asking by CID or by integrity. The tarball itself is the caller's to cache.
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { createCacheBlockstore } from './cache-blockstore.ts'
import { MAX_RAW_BLOCK, importTarball, rawCidOf } from './cid.ts'
import { createCidIndex } from './cid-index.ts'

/** The tarball's CID without keeping anything (`--dry-run`): a large one's DAG is built and dropped. */
export async function cidOfTarball (bytes: Uint8Array): Promise<CID> {
  if (bytes.length <= MAX_RAW_BLOCK) return rawCidOf(bytes)
  return importTarball([bytes], { put: async (cid: CID) => cid })
}

/** The tarball's CID; `cacheDir` is npm's cache dir (blocks in `_cacache`, index in `_ipfs-npm/cids`). */
export async function addTarball (cacheDir: string, bytes: Uint8Array): Promise<CID> {
  if (bytes.length <= MAX_RAW_BLOCK) return rawCidOf(bytes)
  const root = await importTarball([bytes], createCacheBlockstore({ cachePath: join(cacheDir, '_cacache') }))
  await createCidIndex(join(cacheDir, '_ipfs-npm', 'cids')).set(`sha512-${createHash('sha512').update(bytes).digest('base64')}`, root)
  return root
}
