/**
 * npm's cache (cacache) as an `interface-blockstore`.
 *
 * cacache stores content by digest, so a block is simply the content whose integrity is
 * `<algo>-<base64 multihash digest>`: a raw sha2-512 CID is a tarball npm cached, servable with no
 * import and no second copy. Blocks we add ourselves (UnixFS nodes of large tarballs) are written
 * with an index key `ipfs-npm:block:<cid>` so `npm cache verify` keeps them; while such a write is
 * under way the block is served from memory (a busy disk can take seconds to make directories).
 *
 * A content file is read with one open, fstat and read, and hashed against its digest the first
 * time only: the fstat's identity (device, inode, size, ctime) is remembered once the bytes
 * matched, and a later read of the same identity is the same bytes. Any write to the file or its
 * replacement changes the identity, so it is hashed again; a file changed within a second of the
 * check is not remembered (file times may not tick between two writes that close together, as
 * git's "racily clean" index entries). cacache's byDigest hashed on every read: 3.4 ms of CPU per
 * MB, against 1 ms for the read alone.
 *
 * A large tarball's DAG leaves are slices of the tarball, which npm's cache holds already: they
 * are served from it by offset (`putSlice`), kept as an index entry `ipfs-npm:slice:<cid>` naming
 * the tarball's content, its offset and length. Writing them as blocks of their own cost a second
 * copy of every large tarball, hashed twice more, while the asker waited for its first answer.
 */
import type { BigIntStats } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import cacache from 'cacache'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import { NotFoundError } from 'interface-store'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import ssri from 'ssri'
import { blockMatchesCid, integrityOfCid, rawCidFromIntegrity } from './cid.ts'

/** A blockstore over cacache, plus aliases for content cacache only knows by another digest. */
export interface CacheBlockstore extends Blockstore {
  /**
   * Makes `cid` readable from content stored under `integrity` (e.g. a tarball cached under sha1
   * only). The caller must have checked that the content hashes to `cid`; kept in memory only.
   */
  alias(cid: CID, integrity: string): void
  /** Size in bytes of the block, or undefined when absent; a stat, no read. */
  size(cid: CID): Promise<number | undefined>
  /**
   * The block's bytes, or undefined when it is absent, bigger than `maxBytes` (then not read, and
   * `tooLarge` is told) or does not match its CID: `get` without a second stat for the size or a
   * throw for the absent.
   */
  read(cid: CID, maxBytes: number, tooLarge?: () => void): Promise<Uint8Array | undefined>
  /**
   * Stores a block that is public by construction (a signed index's: it holds only packuments of
   * registries with no credentials), marked so that a node outside a swarm serves it
   * (servable.ts); `put` marks nothing: a DAG block is public only as part of a public tarball.
   */
  putShared(cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<CID>
  /**
   * `put` for bytes the caller has already hashed against `cid` (bitswap checks every block it
   * hands out): hashed once more, by cacache to address them, instead of three times.
   */
  putVerified(cid: CID, bytes: Uint8Array): Promise<CID>
  /**
   * Makes `cid` the `length` bytes at `offset` of the content stored under `integrity` (one hash),
   * readable at once and after a restart: a DAG leaf served from the tarball it was cut from. The
   * bytes are checked against `cid` the first time they are read.
   */
  putSlice(cid: CID, integrity: string, offset: number, length: number): Promise<CID>
}

export interface CacheBlockstoreInit {
  /** cacache's directory: `${cacheDir}/_cacache`. */
  cachePath: string
}

const KEY_PREFIX = 'ipfs-npm:block:'
const SLICE_PREFIX = 'ipfs-npm:slice:'
/** Content files whose identity is remembered as checked (about 200 bytes each); the oldest go first. */
const MAX_CHECKED = 32_768
/** A file changed more recently than this before its check is not remembered as checked, in ns. */
const RACY_NS = 1_000_000_000n

/** Where cacache keeps the content with this (single-hash) integrity. */
export const contentPath = createRequire(import.meta.url)('cacache/lib/content/path.js') as (cache: string, integrity: string) => string

/** What a content file is, as far as its bytes go: a write or a replacement changes it (a write sets the ctime, which no call can set back). */
function identityOf (st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.ctimeNs}`
}

/** Where a block lies within stored content. */
interface Slice {
  integrity: string
  offset: number
  length: number
}

/** Whether `bytes` hash to a single-hash integrity (`<algo>-<base64 digest>`). */
function matchesDigest (bytes: Uint8Array, integrity: string): boolean {
  const dash = integrity.indexOf('-')
  return createHash(integrity.slice(0, dash)).update(bytes).digest('base64') === integrity.slice(dash + 1)
}

type Bytes = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>

async function collect (bytes: Bytes): Promise<Uint8Array> {
  if (bytes instanceof Uint8Array) return bytes
  const chunks: Uint8Array[] = []
  for await (const chunk of bytes) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** Creates the cacache-backed blockstore. */
export function createCacheBlockstore (init: CacheBlockstoreInit): CacheBlockstore {
  const { cachePath } = init
  const aliases = new Map<string, string>()
  /** Blocks whose write is under way, by keyOf. */
  const writing = new Map<string, Uint8Array>()
  const keyOf = (cid: CID): string => Buffer.from(cid.multihash.bytes).toString('base64')
  const locate = (cid: CID): string | undefined => aliases.get(keyOf(cid)) ?? integrityOfCid(cid)

  /** Content files (and slices of them, by block key) whose bytes matched their digest: → identity when checked. */
  const checked = new Map<string, string>()
  const remember = (key: string, identity: string): void => {
    checked.delete(key)
    checked.set(key, identity)
    if (checked.size > MAX_CHECKED) checked.delete(checked.keys().next().value!)
  }

  /** Slices known to this process, by keyOf; others are looked up in the index (after a restart). */
  const slices = new Map<string, Slice>()
  /** The slice `cid` is, if any: DAG leaves are raw sha2-256 blocks, a tarball's own CID never is. */
  const sliceOf = async (cid: CID): Promise<Slice | undefined> => {
    const known = slices.get(keyOf(cid))
    if (known !== undefined || cid.code !== raw.code || cid.multihash.code !== sha256.code) return known
    const entry = await cacache.get.info(cachePath, SLICE_PREFIX + cid.toString()).catch(() => null)
    const { offset, length } = (entry?.metadata ?? {}) as { offset?: unknown, length?: unknown }
    if (entry === null || typeof offset !== 'number' || typeof length !== 'number') return undefined
    const slice = { integrity: String(entry.integrity), offset, length }
    slices.set(keyOf(cid), slice)
    return slice
  }
  /** The slice's size, when the content it is cut from is there. */
  const sliceSize = async (slice: Slice): Promise<number | undefined> => {
    const st = await stat(contentPath(cachePath, slice.integrity)).catch(() => undefined)
    return st !== undefined && st.size >= slice.offset + slice.length ? slice.length : undefined
  }

  const contentSize = async (integrity: string): Promise<number | undefined> => {
    try {
      return (await stat(contentPath(cachePath, integrity))).size
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  const size = async (cid: CID): Promise<number | undefined> => {
    const pending = writing.get(keyOf(cid))
    if (pending !== undefined) return pending.byteLength
    const known = slices.get(keyOf(cid))
    if (known !== undefined) return await sliceSize(known)
    const integrity = locate(cid)
    if (integrity === undefined) return undefined
    const stored = await contentSize(integrity)
    if (stored !== undefined) return stored
    const slice = await sliceOf(cid)
    return slice === undefined ? undefined : await sliceSize(slice)
  }

  /**
   * The bytes of stored content — all of it, or `slice` of it — when they are all there and
   * `matches` them: checked the first time for this identity of the file (remembered under
   * `key`), so a corrupted file is never served.
   */
  const readChecked = async (integrity: string, slice: Slice | undefined, maxBytes: number, key: string, matches: (bytes: Uint8Array) => boolean, tooLarge?: () => void): Promise<Uint8Array | undefined> => {
    if (slice !== undefined && slice.length > maxBytes) {
      tooLarge?.()
      return undefined
    }
    let file
    try {
      file = await open(contentPath(cachePath, integrity), 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    try {
      // the identity of what is read, taken before the read: a write after it changes it for the next
      const st = await file.stat({ bigint: true })
      const statAt = BigInt(Date.now()) * 1_000_000n
      if (slice === undefined && st.size > BigInt(maxBytes)) {
        tooLarge?.()
        return undefined
      }
      const offset = slice?.offset ?? 0
      const bytes = Buffer.allocUnsafeSlow(slice?.length ?? Number(st.size))
      let filled = 0
      while (filled < bytes.byteLength) {
        const { bytesRead } = await file.read(bytes, filled, bytes.byteLength - filled, offset + filled)
        if (bytesRead === 0) return undefined
        filled += bytesRead
      }
      const identity = identityOf(st)
      if (checked.get(key) !== identity) {
        if (!matches(bytes)) return undefined
        if (st.ctimeNs < statAt - RACY_NS) remember(key, identity)
      }
      return bytes
    } finally {
      await file.close()
    }
  }
  const readContent = async (integrity: string, maxBytes: number, tooLarge?: () => void): Promise<Uint8Array | undefined> =>
    readChecked(integrity, undefined, maxBytes, integrity, (bytes) => matchesDigest(bytes, integrity), tooLarge)
  const readSlice = async (cid: CID, slice: Slice, maxBytes: number, tooLarge?: () => void): Promise<Uint8Array | undefined> =>
    readChecked(slice.integrity, slice, maxBytes, keyOf(cid), (bytes) => blockMatchesCid(cid, bytes), tooLarge)

  const read = async (cid: CID, maxBytes: number, tooLarge?: () => void): Promise<Uint8Array | undefined> => {
    const pending = writing.get(keyOf(cid))
    if (pending !== undefined) {
      if (pending.byteLength <= maxBytes) return pending
      tooLarge?.()
      return undefined
    }
    const known = slices.get(keyOf(cid))
    if (known !== undefined) return await readSlice(cid, known, maxBytes, tooLarge)
    const integrity = locate(cid)
    if (integrity === undefined) return undefined
    const stored = await readContent(integrity, maxBytes, tooLarge)
    if (stored !== undefined) return stored
    const slice = await sliceOf(cid)
    return slice === undefined ? undefined : await readSlice(cid, slice, maxBytes, tooLarge)
  }

  // readable from the moment put is called with bytes in hand (no await before `writing.set`)
  const write = async (cid: CID, bytes: Bytes, shared: boolean, verified = false): Promise<CID> => {
    const data = bytes instanceof Uint8Array ? bytes : await collect(bytes)
    const integrity = integrityOfCid(cid)
    if (integrity === undefined || (!verified && !blockMatchesCid(cid, data))) throw new Error(`block does not match ${cid}`)
    const key = keyOf(cid)
    writing.set(key, data)
    try {
      // cacache hashes the bytes to address them, and again if given the integrity to check
      await cacache.put(cachePath, KEY_PREFIX + cid.toString(), data, { ...(verified ? {} : { integrity }), algorithms: [integrity.split('-')[0]], ...(shared ? { metadata: { shared } } : {}) })
    } finally {
      if (writing.get(key) === data) writing.delete(key)
    }
    return cid
  }
  const put = async (cid: CID, bytes: Bytes): Promise<CID> => write(cid, bytes, false)

  const store: CacheBlockstore = {
    putShared: async (cid, bytes) => write(cid, bytes, true),
    putVerified: async (cid, bytes) => write(cid, bytes, false, true),
    async putSlice (cid, integrity, offset, length) {
      // readable from the call on (no await before the set), as `put`
      slices.set(keyOf(cid), { integrity, offset, length })
      await cacache.index.insert(cachePath, SLICE_PREFIX + cid.toString(), integrity, { metadata: { offset, length } })
      return cid
    },
    alias (cid, integrity) {
      aliases.set(keyOf(cid), integrity)
    },
    size,
    read,
    async has (cid) {
      return (await size(cid)) !== undefined
    },
    put,
    async * putMany (source) {
      for await (const { cid, bytes } of source as AsyncIterable<InputPair>) yield await put(cid, bytes)
    },
    async * get (cid) {
      const bytes = await read(cid, Number.MAX_SAFE_INTEGER)
      if (bytes === undefined) throw new NotFoundError(`no block for ${cid}`)
      yield bytes
    },
    async * getMany (source) {
      for await (const cid of source) yield { cid, bytes: store.get(cid) as AsyncGenerator<Uint8Array> }
    },
    async delete (cid) {
      const integrity = locate(cid)
      if (integrity !== undefined) await cacache.rm.content(cachePath, integrity)
    },
    async * deleteMany (source) {
      for await (const cid of source) {
        await store.delete(cid)
        yield cid
      }
    },
    async * getAll () {
      const seen = new Set<string>()
      for await (const entry of cacache.ls.stream(cachePath) as AsyncIterable<cacache.CacheObject>) {
        const ours = [KEY_PREFIX, SLICE_PREFIX].find((prefix) => entry.key.startsWith(prefix))
        const cid = ours !== undefined ? CID.parse(entry.key.slice(ours.length)) : rawCidFromIntegrity(String(ssri.parse(entry.integrity)))
        if (cid === undefined || seen.has(keyOf(cid))) continue
        seen.add(keyOf(cid))
        yield { cid, bytes: store.get(cid) } as Pair
      }
    },
  }
  return store
}
