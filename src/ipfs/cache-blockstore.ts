/**
 * npm's cache (cacache) as an `interface-blockstore`.
 *
 * cacache stores content by digest, so a block is simply the content whose integrity is
 * `<algo>-<base64 multihash digest>`: a raw sha2-512 CID is a tarball npm cached, servable with no
 * import and no second copy. Blocks we add ourselves (UnixFS nodes of large tarballs) are written
 * with an index key `ipfs-npm:block:<cid>` so `npm cache verify` keeps them; while such a write is
 * under way the block is served from memory (a busy disk can take seconds to make directories).
 */
import cacache from 'cacache'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import { NotFoundError } from 'interface-store'
import { CID } from 'multiformats/cid'
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
}

export interface CacheBlockstoreInit {
  /** cacache's directory: `${cacheDir}/_cacache`. */
  cachePath: string
}

const KEY_PREFIX = 'ipfs-npm:block:'

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

  const size = async (cid: CID): Promise<number | undefined> => {
    const pending = writing.get(keyOf(cid))
    if (pending !== undefined) return pending.byteLength
    const integrity = locate(cid)
    if (integrity === undefined) return undefined
    const info = await cacache.get.hasContent(cachePath, integrity)
    return info === false ? undefined : info.size
  }

  const read = async (cid: CID): Promise<Uint8Array> => {
    const pending = writing.get(keyOf(cid))
    if (pending !== undefined) return pending
    const integrity = locate(cid)
    if (integrity === undefined) throw new NotFoundError(`no block for ${cid}`)
    try {
      // byDigest checks the bytes against the digest as it reads: a corrupted file is never served
      return await cacache.get.byDigest(cachePath, integrity)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'EINTEGRITY') throw new NotFoundError(`no block for ${cid}`)
      throw err
    }
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
    alias (cid, integrity) {
      aliases.set(keyOf(cid), integrity)
    },
    size,
    async has (cid) {
      return (await size(cid)) !== undefined
    },
    put,
    async * putMany (source) {
      for await (const { cid, bytes } of source as AsyncIterable<InputPair>) yield await put(cid, bytes)
    },
    async * get (cid) {
      yield await read(cid)
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
        const cid = entry.key.startsWith(KEY_PREFIX) ? CID.parse(entry.key.slice(KEY_PREFIX.length)) : rawCidFromIntegrity(String(ssri.parse(entry.integrity)))
        if (cid === undefined || seen.has(keyOf(cid))) continue
        seen.add(keyOf(cid))
        yield { cid, bytes: store.get(cid) } as Pair
      }
    },
  }
  return store
}
