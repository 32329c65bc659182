/**
 * How a tarball's integrity becomes a CID (DESIGN.md, "Content addressing").
 *
 * - ≤ 1 MiB: CIDv1, codec raw, multihash sha2-512 of the tarball — read straight out of the
 *   integrity's sha512 digest, no hashing needed.
 * - > 1 MiB: a UnixFS file in the `unixfs-v1-2025` profile (raw leaves, 1 MiB chunks, 1024 links per
 *   node); its root cannot be derived from the integrity, only learned (index, hint, peers) and
 *   checked by hashing the whole tarball after fetching it.
 */
import { createHash, webcrypto } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { importByteStream, type WritableStorage } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import ssri from 'ssri'

/** The largest tarball that is one raw block; anything bigger is a UnixFS DAG. */
export const MAX_RAW_BLOCK = 1024 * 1024
/** Links in one `unixfs-v1-2025` node: a root over raw leaves alone holds 1 GiB. */
const MAX_LINKS = 1024

/** Multihash codes we store and serve, with the name ssri/cacache give the same algorithm. */
const ALGORITHMS: Record<number, 'sha256' | 'sha512'> = { [sha256.code]: 'sha256', [sha512.code]: 'sha512' }

/** The raw-codec CID of a block whose sha2-512 digest is `digest`. */
export function rawCidFromDigest (digest: Uint8Array): CID {
  return CID.createV1(raw.code, Digest.create(sha512.code, digest))
}

/** The raw CID the integrity's sha512 names, or undefined when it has no sha512 (old sha1 locks). */
export function rawCidFromIntegrity (integrity: string): CID | undefined {
  const sha = ssri.parse(integrity)?.sha512?.[0]
  return sha === undefined ? undefined : rawCidFromDigest(Buffer.from(sha.digest, 'base64'))
}

/** The raw CID of `bytes` (hashes them). */
export function rawCidOf (bytes: Uint8Array): CID {
  return rawCidFromDigest(createHash('sha512').update(bytes).digest())
}

/**
 * The cacache integrity (`<algo>-<base64 digest>`) under which a block with this CID is stored,
 * or undefined for hash functions cacache does not key content by.
 */
export function integrityOfCid (cid: CID): string | undefined {
  const algorithm = ALGORITHMS[cid.multihash.code]
  if (algorithm === undefined) return undefined
  return `${algorithm}-${Buffer.from(cid.multihash.digest).toString('base64')}`
}

/** Whether `bytes` hash to the multihash in `cid`. */
export function blockMatchesCid (cid: CID, bytes: Uint8Array): boolean {
  const algorithm = ALGORITHMS[cid.multihash.code]
  if (algorithm === undefined) return false
  return Buffer.from(cid.multihash.digest).equals(createHash(algorithm).update(bytes).digest())
}

/**
 * Imports a tarball as a `unixfs-v1-2025` UnixFS file, writing its blocks to `blockstore`, and
 * returns the root CID. The same bytes give the same root on every peer.
 */
export async function importTarball (content: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, blockstore: WritableStorage): Promise<CID> {
  const { cid } = await importByteStream(content, blockstore, { profile: 'unixfs-v1-2025' })
  return cid
}

/** A raw leaf of a tarball's DAG: a 1 MiB slice (the last one shorter), in file order. */
export interface DagLeaf {
  cid: CID
  length: number
}

/**
 * A DAG leaf's CID: raw, sha2-256, as `unixfs-v1-2025` hashes it. Hashed by WebCrypto, on
 * libuv's threads rather than the event loop's: a peer waiting for a large tarball's root gets it
 * sooner, and the serving node's event loop stays free for its other peers.
 */
export async function leafCidOf (bytes: Uint8Array): Promise<CID> {
  return CID.createV1(raw.code, Digest.create(sha256.code, new Uint8Array(await webcrypto.subtle.digest('SHA-256', bytes))))
}

/**
 * The root node of a `unixfs-v1-2025` file over these leaves, its bytes and CID: what
 * importTarball builds for the same bytes (one node up to 1024 leaves, which MAX_TARBALL keeps
 * under), from the leaves' hashes alone.
 */
export function fileRootOf (leaves: readonly DagLeaf[]): { cid: CID, bytes: Uint8Array } {
  if (leaves.length < 2 || leaves.length > MAX_LINKS) throw new Error(`a one-node file root holds 2 to ${MAX_LINKS} leaves, not ${leaves.length}`)
  const data = new UnixFS({ type: 'file' })
  for (const leaf of leaves) data.addBlockSize(BigInt(leaf.length))
  const bytes = dagPb.encode(dagPb.prepare({ Data: data.marshal(), Links: leaves.map((leaf) => ({ Name: '', Tsize: leaf.length, Hash: leaf.cid })) }))
  return { cid: CID.createV1(dagPb.code, Digest.create(sha256.code, createHash('sha256').update(bytes).digest())), bytes }
}
