/**
 * Content by CID alone, for `ipfs-npm install <cid>`: no integrity is known beforehand, so the CID
 * itself is the check — bitswap hashes every block against the CID that asked for it, and a
 * UnixFS root links its leaves by CID, so the bytes that come out are the CID's bytes or nothing.
 * Only the two codecs a tarball is ever published as are followed: `raw` (one block, ≤ 1 MiB) and
 * `dag-pb` (a UnixFS file, read as fetch-dag.ts reads a tarball's: every leaf wanted at once and
 * written into its place). The wait is bounded by `peerTimeout` of silence, on the same clock as
 * tarballs' (silence-clock.ts: a large block's bytes count as they arrive).
 */
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as rawCodec from 'multiformats/codecs/raw'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { npmError } from '../errors.ts'
import type { CacheBlockstore } from './cache-blockstore.ts'
import { integrityOfCid } from './cid.ts'
import type { CidIndex } from './cid-index.ts'
import { readUnixfsFile, type Want } from './fetch-dag.ts'
import { startSilenceClock } from './silence-clock.ts'

const DAG_PB = 0x70
const CODEC_NAMES: Record<number, string> = { 0x71: 'dag-cbor', 0x0129: 'dag-json', 0x0200: 'json', 0x0297: 'dag-jose', 0x78: 'git-raw', 0x72: 'libp2p-key' }

/** Why content could not be had by CID; `code` is what npm's error shape shows. */
export type CidContentError = Error & { code: 'EINVALIDCID' | 'EUNSUPPORTEDCID' | 'E404' | 'ENOTFILE' }

const CID_CONTENT_CODES = new Set<string>(['EINVALIDCID', 'EUNSUPPORTEDCID', 'E404', 'ENOTFILE'])

export const cidContentError = (message: string, code: CidContentError['code']): CidContentError => npmError(code, message) as CidContentError

const isCidContentError = (err: unknown): err is CidContentError => CID_CONTENT_CODES.has(String((err as { code?: unknown }).code))

/** Parses `text` as a CID a tarball can have; throws CidContentError saying why not. */
export function parseTarballCid (text: string): CID {
  let cid: CID
  try {
    cid = CID.parse(text)
  } catch (err) {
    throw cidContentError(`Invalid CID "${text}": ${(err as Error).message}`, 'EINVALIDCID')
  }
  if (cid.code !== rawCodec.code && cid.code !== DAG_PB) {
    const codec = CODEC_NAMES[cid.code] ?? `codec 0x${cid.code.toString(16)}`
    throw cidContentError(`${text} is a ${codec} CID; a package tarball is a raw block or a UnixFS file (dag-pb)`, 'EUNSUPPORTEDCID')
  }
  if (cid.multihash.code !== sha256.code && cid.multihash.code !== sha512.code) {
    throw cidContentError(`${text} uses hash 0x${cid.multihash.code.toString(16)}; only sha2-256 and sha2-512 CIDs are fetched`, 'EUNSUPPORTEDCID')
  }
  return cid
}

/** The integrity of the bytes a raw CID names (its own digest); undefined for a DAG root, whose tarball must be fetched to be hashed. */
export function tarballIntegrityOfCid (cid: CID): string | undefined {
  return cid.code === rawCodec.code ? integrityOfCid(cid) : undefined
}

export interface FetchCidInit {
  want: Want
  blockstore: CacheBlockstore
  index: CidIndex
  /** ms of silence (no block arrived, no bytes of one at a useful rate) after which nobody is taken to have it. */
  peerTimeout: number
  /** A running count of bytes of blocks still coming in (BitswapExchange.arrived). */
  arrived(): number
  /** How many peers are connected, for the error. */
  connectedPeers(): number
  stopSignal: AbortSignal
}

/** The content of `cid` (a raw block or a UnixFS file), from this node's blocks or its peers. */
export async function fetchCidContent (cid: CID, init: FetchCidInit): Promise<Uint8Array> {
  const controller = new AbortController()
  let lastBlock = Date.now()
  const clock = startSilenceClock({ peerTimeout: init.peerTimeout, arrived: () => init.arrived(), lastProgress: () => lastBlock, onSilent: () => controller.abort() })
  const signal = AbortSignal.any([controller.signal, init.stopSignal])
  // every block that arrives is progress; the file's leaves are written into place as they come
  const want: Want = async (block, options) => {
    const bytes = await init.want(block, options)
    lastBlock = Date.now()
    return bytes
  }
  try {
    if (cid.code === rawCodec.code) {
      // one read, checked against its digest: a block whose file no longer matches comes from peers
      return await init.blockstore.read(cid, Number.MAX_SAFE_INTEGER) ?? await want(cid, { signal })
    }
    const file = await readUnixfsFile(cid, want, init.blockstore, signal)
    if ('notFile' in file) throw cidContentError(`${cid} is a UnixFS ${file.notFile}, not a file`, 'ENOTFILE')
    if ('tooLarge' in file) throw cidContentError(`${cid} is ${file.tooLarge} bytes, more than a package tarball is taken from peers`, 'ENOTFILE')
    // this node now serves the DAG, and answers the tarball's integrity with its root
    await Promise.allSettled(file.fetched.map(async (block) => init.blockstore.putVerified(block.cid, block.bytes)))
    await init.index.set(`sha512-${createHash('sha512').update(file.bytes).digest('base64')}`, cid).catch(() => {})
    return file.bytes
  } catch (err) {
    if (isCidContentError(err)) throw err
    if (!controller.signal.aborted) {
      if (init.stopSignal.aborted) throw err
      throw cidContentError(`${cid} is not a UnixFS file: ${(err as Error).message}`, 'ENOTFILE')
    }
    const peers = init.connectedPeers()
    throw cidContentError(`No peer had ${cid} within ${init.peerTimeout} ms (${peers} peer${peers === 1 ? '' : 's'} connected)`, 'E404')
  } finally {
    clock.stop()
  }
}
