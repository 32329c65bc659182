/**
 * Fetches a large tarball's UnixFS DAG (all leaves wanted at once), checks the whole tarball
 * against its integrity, and only then stores the blocks, so a lying root never leaves a byte
 * behind. The tarball is allocated once from the root's size and each raw leaf is written into
 * its place as it arrives (the exporter's file content copied every leaf twice more); dag-pb
 * nodes are still parsed by the exporter. fetch-cid.ts reads a file by CID alone the same way.
 */
import * as dagPb from '@ipld/dag-pb'
import { exporter } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import * as rawCodec from 'multiformats/codecs/raw'
import type { CacheBlockstore } from './cache-blockstore.ts'
import { matchesIntegrity } from '../integrity.ts'

/**
 * The largest tarball taken from peers; a DAG claiming more is not followed (the registry serves
 * it). Its bytes are held in memory until hashed, and a few blocks linked over and over can claim
 * any size: a peer must not make us download and hold gigabytes to find out it lied.
 */
export const MAX_TARBALL = 256 * 1024 * 1024
/** Levels of dag-pb nodes followed: 1024 links of 1 MiB need 2 for MAX_TARBALL; Kubo's 174 of 256 KiB, 3. */
const MAX_DEPTH = 8

/** A block by CID, hash-checked; with `into`, a block of exactly its length is written there (and `into` returned). */
export type Want = (cid: CID, options: { signal: AbortSignal, into?: Uint8Array }) => Promise<Uint8Array>

/** What fetchDag tells its caller as the transfer goes. */
export interface DagProgress {
  /** The root is in: a peer serves this DAG, of `size` bytes (at most MAX_TARBALL). */
  onSize(size: number): void
  /** Every byte is in and checked, before the blocks are written; from then on it resolves with the bytes. */
  onVerified(): void
}

const dagError = (cid: CID, why: string): Error => new Error(`${cid} is not a well-formed UnixFS file: ${why}`)

/** A block fetched by a UnixFS file's reader: from `want` (then to be stored), or already in the blockstore. */
export interface FetchedBlock { cid: CID, bytes: Uint8Array }

/** What readUnixfsFile found at a root. */
export type UnixfsFile =
  | { bytes: Uint8Array, fetched: FetchedBlock[] }
  /** Not a UnixFS file: what it is (`directory`, `symlink`, …). */
  | { notFile: string }
  /** A file larger than MAX_TARBALL: not followed. */
  | { tooLarge: bigint }

/**
 * The bytes of the UnixFS file at dag-pb `root`, every leaf wanted at once, the file allocated once
 * from the root's size and each raw leaf written into its place (by `want` itself when the block
 * is that place's length). `onSize` hears the size once the root is in. Blocks already in
 * `blockstore` are read from it; the others are returned in `fetched`, not stored: the caller
 * checks the bytes first. Throws on a malformed DAG.
 */
export async function readUnixfsFile (root: CID, want: Want, blockstore: CacheBlockstore, signal: AbortSignal, onSize?: (size: number) => void): Promise<UnixfsFile> {
  const fetched = new Map<string, FetchedBlock>()
  const get = async (cid: CID, into?: Uint8Array): Promise<Uint8Array> => {
    // one read, checked against its digest: a block we lack, or whose file no longer matches, comes from peers
    const local = await blockstore.read(cid, Number.MAX_SAFE_INTEGER)
    if (local !== undefined) return local
    const bytes = await want(cid, into === undefined ? { signal } : { signal, into })
    fetched.set(cid.toString(), { cid, bytes })
    return bytes
  }
  const reader = { async * get (cid: CID) { yield await get(cid) } }
  /** A dag-pb node's UnixFS file data and links, or what the exporter calls it when it is not one. */
  const fileNode = async (cid: CID): Promise<{ data?: Uint8Array, links: dagPb.PBLink[], sizes: bigint[], size: bigint } | string> => {
    const entry = await exporter(cid, reader, { signal })
    if (entry.type !== 'file' || (entry.unixfs.type !== 'file' && entry.unixfs.type !== 'raw')) return entry.type === 'file' ? entry.unixfs.type : entry.type
    return { data: entry.unixfs.data, links: entry.node.Links, sizes: entry.unixfs.blockSizes, size: entry.unixfs.fileSize() }
  }

  if (root.code !== dagPb.code) return { notFile: `codec 0x${root.code.toString(16)}` }
  const top = await fileNode(root)
  if (typeof top === 'string') return { notFile: top }
  if (top.size > BigInt(MAX_TARBALL)) return { tooLarge: top.size }
  const size = Number(top.size)
  onSize?.(size)
  const file = Buffer.allocUnsafeSlow(size)

  /** Writes the file `node` describes into file[start, start + length). */
  const fill = async (cid: CID, node: Exclude<typeof top, string>, start: number, length: number, depth: number): Promise<void> => {
    if (node.size !== BigInt(length)) throw dagError(cid, `a node of ${node.size} bytes where ${length} belong`)
    if (node.links.length !== node.sizes.length) throw dagError(cid, 'links and block sizes differ')
    let at = start
    if (node.data !== undefined) {
      file.set(node.data, at)
      at += node.data.byteLength
    }
    // every link checked before any is wanted: nothing is left in flight when one is bad
    const plan = node.links.map((link, i) => {
      const child = link.Hash
      const childLength = Number(node.sizes[i])
      // an empty child adds nothing but wants: a lying DAG could fan out without bound
      if (childLength === 0) throw dagError(cid, 'a link to nothing')
      if (child.code !== rawCodec.code && child.code !== dagPb.code) throw dagError(child, `codec 0x${child.code.toString(16)}`)
      if (child.code === dagPb.code && depth >= MAX_DEPTH) throw dagError(child, 'too deep')
      const childStart = at
      at += childLength
      return { child, childStart, childLength }
    })
    const children = plan.map(async ({ child, childStart, childLength }) => {
      if (child.code === rawCodec.code) {
        const place = file.subarray(childStart, childStart + childLength)
        const bytes = await get(child, place)
        if (bytes.byteLength !== childLength) throw dagError(child, `a leaf of ${bytes.byteLength} bytes where ${childLength} belong`)
        if (bytes !== place) place.set(bytes)
        return
      }
      const sub = await fileNode(child)
      if (typeof sub === 'string') throw dagError(child, 'not a file node')
      await fill(child, sub, childStart, childLength, depth + 1)
    })
    await Promise.all(children)
  }
  await fill(root, top, 0, size, 0)
  return { bytes: file, fetched: [...fetched.values()] }
}

/** The verified tarball, `mismatch` when the DAG holds other bytes, or undefined when not a file. */
export async function fetchDag (root: CID, integrity: string, want: Want, blockstore: CacheBlockstore, signal: AbortSignal, progress: DagProgress): Promise<Uint8Array | 'mismatch' | undefined> {
  const file = await readUnixfsFile(root, want, blockstore, signal, (size) => progress.onSize(size))
  if (!('bytes' in file)) return undefined
  if (!matchesIntegrity(file.bytes, integrity)) return 'mismatch'
  progress.onVerified()
  // the tarball is good whatever happens now: a block we fail to write is only one we cannot serve on
  await Promise.allSettled(file.fetched.map(async ({ cid, bytes: block }) => blockstore.putVerified(cid, block)))
  return file.bytes
}
