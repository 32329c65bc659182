/**
 * Fetches a large tarball's UnixFS DAG block by block (all leaves wanted at once), checks the
 * whole tarball against its integrity, and only then stores the blocks, so a lying root never
 * leaves a byte behind.
 */
import { exporter } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import type { CacheBlockstore } from './cache-blockstore.ts'
import { matchesIntegrity } from '../integrity.ts'

/**
 * The largest tarball taken from peers; a DAG claiming more is not followed (the registry serves
 * it). Its bytes are held in memory until hashed, and a few blocks linked over and over can claim
 * any size: a peer must not make us download and hold gigabytes to find out it lied.
 */
export const MAX_TARBALL = 256 * 1024 * 1024

export type Want = (cid: CID, options: { signal: AbortSignal }) => Promise<Uint8Array>

/** What fetchDag tells its caller as the transfer goes. */
export interface DagProgress {
  /** The root is in: a peer serves this DAG, of `size` bytes (at most MAX_TARBALL). */
  onSize(size: number): void
  /** Every byte is in and checked, before the blocks are written; from then on it resolves with the bytes. */
  onVerified(): void
}

/** The verified tarball, `mismatch` when the DAG holds other bytes, or undefined when not a file. */
export async function fetchDag (root: CID, integrity: string, want: Want, blockstore: CacheBlockstore, signal: AbortSignal, progress: DagProgress): Promise<Uint8Array | 'mismatch' | undefined> {
  const fetched = new Map<string, { cid: CID, bytes: Uint8Array }>()
  const reader = {
    async * get (cid: CID) {
      if (await blockstore.has(cid)) {
        yield * blockstore.get(cid)
        return
      }
      const bytes = await want(cid, { signal })
      fetched.set(cid.toString(), { cid, bytes })
      yield bytes
    },
  }
  const entry = await exporter(root, reader, { signal })
  if ((entry.type !== 'file' && entry.type !== 'raw') || entry.size > MAX_TARBALL) return undefined
  progress.onSize(Number(entry.size))
  const chunks: Uint8Array[] = []
  for await (const chunk of entry.content({ signal })) chunks.push(chunk)
  const bytes = Buffer.concat(chunks)
  if (!matchesIntegrity(bytes, integrity)) return 'mismatch'
  progress.onVerified()
  // the tarball is good whatever happens now: a block we fail to write is only one we cannot serve on
  await Promise.allSettled([...fetched.values()].map(async ({ cid, bytes: block }) => blockstore.put(cid, block)))
  return bytes
}
