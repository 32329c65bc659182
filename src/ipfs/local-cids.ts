/**
 * The CID under which this node can serve a tarball it has, by integrity — the answering side of
 * the CID protocol, and what `serve` prepares and provides ahead of any ask. Small tarballs are
 * their raw block; a large one's UnixFS DAG is built from the cached tarball (hashing a few MiB
 * once) and remembered in the index: ahead of time by `serve` (see seeder.ts), else the first time
 * a peer asks; its leaves are served from the cached tarball by offset. An integrity the cache
 * does not key content by (a sha1-only lock entry: npm stores the tarball under sha512) is found
 * through the asked package version's cache entries, then checked.
 */
import { setImmediate as yieldToEvents } from 'node:timers/promises'
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import cacache from 'cacache'
import ssri from 'ssri'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { contentPath, type CacheBlockstore } from './cache-blockstore.ts'
import { MAX_RAW_BLOCK, fileRootOf, leafCidOf, rawCidFromDigest, rawCidFromIntegrity, type DagLeaf } from './cid.ts'
import type { CidIndex } from './cid-index.ts'
import { MAX_TARBALL } from './fetch-dag.ts'
import { hashesOf, matchesIntegrity, sriOf } from '../integrity.ts'
import type { PackageId, PackageTarballs } from './package-tarballs.ts'

/** Leaves hashed at once (1 MiB of memory each). */
const LEAVES_IN_FLIGHT = 8

export interface LocalCidsInit {
  cachePath: string
  blockstore: CacheBlockstore
  index: CidIndex
  /** Finds a package version's tarball when the asked digest is not how the cache keys it. */
  packageTarballs: PackageTarballs
  /** sha512 integrity → the raw sha2-256 CID of a small tarball, once computed (see `profileCid`). */
  profileIndex: CidIndex
  /**
   * Whether the cached content under this integrity (of `pkg`, when the asker named it) may be
   * named to a peer (servable.ts): asked before anything is read or built, so a private tarball
   * costs no DAG and says nothing.
   */
  mayName(integrity: string, pkg?: PackageId): Promise<boolean>
}

export interface LocalCids {
  /** Looks an integrity up for a peer; `pkg` (when the asker named it) is the fallback for sha1-only asks. */
  lookup(integrity: string, pkg?: PackageId): Promise<CID | undefined>
  /**
   * The CID serving the cached tarball stored under `integrity` (one hash). With `build`, a large
   * one's DAG is built when it has none — in the background way: a few blocks awaiting their write
   * at most, yielding to other work in between, resolving once all are written — so a big tarball
   * costs a few MiB of memory and no stall. Without, a large tarball has a CID only if its DAG is
   * there already.
   */
  prepare(integrity: string, build: boolean): Promise<CID | undefined>
  /**
   * For a small cached tarball (sha512 integrity), the CID `ipfs add` gives it under the
   * `unixfs-v1-2025` profile — one raw leaf, sha2-256 — made servable too: what a Kubo user adds,
   * or a JS DHT can hold a provider record for (js kad-dht reads every key as a sha2-256 multihash).
   * Hashed once, remembered in `profileIndex`. Undefined for a large tarball (its root is `prepare`'s).
   */
  profileCid(integrity: string): Promise<CID | undefined>
  /**
   * Settles once the writes of every DAG build started so far are done (an answer resolves with
   * the root before its blocks and index entry are written): the node's stop waits for them, so
   * a caller removing the cache right after stop does not race with them.
   */
  settled(): Promise<void>
}

/** Returns the lookup; concurrent asks for one tarball share one DAG build. */
export function createLocalCids (init: LocalCidsInit): LocalCids {
  const { cachePath, blockstore, index, packageTarballs, profileIndex, mayName } = init
  /** DAG builds under way, by single-hash integrity: the root is known before the blocks are on disk. */
  const building = new Map<string, Promise<CID>>()
  /** Those builds' ends, once their writes are done (or failed). */
  const writing = new Set<Promise<void>>()

  /**
   * Builds the cached tarball's DAG and resolves with its root as soon as it is known: the leaves'
   * hashes on libuv's threads while the event loop checks the tarball's digest, the root from
   * them (cid.ts). The leaves are not written: they are slices of the cached tarball, served from
   * it by offset (blockstore.putSlice); the root is, and is served from memory until it is. The
   * importer and a block write per leaf, each hashed again, were most of the 2.5 s a busy peer
   * took to answer its first ask for a large tarball. In the background the build yields between
   * leaves. The index learns the root once everything is written.
   */
  const buildDag = async (integrity: string, background: boolean): Promise<{ root: CID, written: Promise<void> }> => {
    const hash = ssri.parse(integrity, { single: true }) as unknown as ssri.Hash
    const check = createHash(hash.algorithm)
    // the root is indexed under the sha512 too: the check is that hash for content keyed by it
    const sha512 = hash.algorithm === 'sha512' ? undefined : createHash('sha512')
    const leaves: Array<Promise<DagLeaf>> = []
    const inFlight = new Set<Promise<void>>()
    const file = await open(contentPath(cachePath, integrity), 'r')
    try {
      for (let length = MAX_RAW_BLOCK, offset = 0; length === MAX_RAW_BLOCK; offset += length) {
        const bytes = Buffer.allocUnsafeSlow(MAX_RAW_BLOCK)
        length = 0
        for (let read = -1; read !== 0 && length < MAX_RAW_BLOCK; length += read) {
          read = (await file.read(bytes, length, MAX_RAW_BLOCK - length, offset + length)).bytesRead
        }
        if (length === 0) break
        const chunk = bytes.subarray(0, length)
        check.update(chunk)
        sha512?.update(chunk)
        const leaf = leafCidOf(chunk).then((cid) => ({ cid, length: chunk.byteLength }))
        leaves.push(leaf)
        const settled: Promise<void> = leaf.then(() => {}, () => {}).finally(() => inFlight.delete(settled))
        inFlight.add(settled)
        if (inFlight.size >= LEAVES_IN_FLIGHT) await Promise.race(inFlight)
        if (background) await yieldToEvents()
      }
    } finally {
      await file.close()
    }
    const placed = await Promise.all(leaves)
    const digest = check.digest('base64')
    if (digest !== hash.digest) throw new Error(`cached content of ${integrity} does not match its digest`)
    const root = fileRootOf(placed)
    const writes = [blockstore.putVerified(root.cid, root.bytes)]
    for (let i = 0, offset = 0; i < placed.length; offset += placed[i]!.length, i++) writes.push(blockstore.putSlice(placed[i]!.cid, integrity, offset, placed[i]!.length))
    // record under the tarball's sha512 too, so asks by a full modern integrity find it
    const sri = `sha512-${sha512?.digest('base64') ?? digest}`
    const written = Promise.all(writes).then(async () => index.set(sri === integrity ? integrity : `${integrity} ${sri}`, root.cid))
    return { root: root.cid, written }
  }

  /** The root; in the background, only once every block is written, so builds go one at a time. */
  const dagOf = async (integrity: string, background: boolean): Promise<CID> => {
    let build = building.get(integrity)
    if (build === undefined) {
      const started = buildDag(integrity, background)
      build = started.then(({ root }) => root)
      building.set(integrity, build)
      // a failed write leaves the index without the root: the next ask builds again
      const done: Promise<void> = started.then(async ({ written }) => written).catch(() => {}).finally(() => {
        building.delete(integrity)
        writing.delete(done)
      })
      writing.add(done)
      if (background) await (await started).written
    }
    return await build
  }

  /** `mode`: build a missing DAG for an ask (fast), in the background (frugal), or not at all. */
  const byDigest = async (integrity: string, mode: 'ask' | 'background' | 'built' = 'ask', pkg?: PackageId): Promise<CID | undefined> => {
    for (const hash of hashesOf(integrity)) {
      const single = sriOf(hash)
      const info = await cacache.get.hasContent(cachePath, single)
      if (info === false) continue
      if (!await mayName(single, pkg)) return undefined
      if (info.size <= MAX_RAW_BLOCK) {
        if (hash.algorithm === 'sha512') return rawCidFromIntegrity(single)
        // cached under another digest only (sha1 locks): serve it under its raw sha512 CID
        const cid = rawCidFromDigest(createHash('sha512').update(await cacache.get.byDigest(cachePath, single)).digest())
        blockstore.alias(cid, single)
        return cid
      }
      if (info.size > MAX_TARBALL) return undefined
      if (mode === 'built') {
        const root = await index.get(single)
        return root !== undefined && await blockstore.has(root) ? root : undefined
      }
      const background = mode === 'background'
      return building.has(single) ? await dagOf(single, background) : await index.get(single) ?? await dagOf(single, background)
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
      if (info === false || info.size > MAX_TARBALL || !await mayName(candidate, pkg)) continue
      if (!matchesIntegrity(await cacache.get.byDigest(cachePath, candidate), integrity)) continue
      const cid = await byDigest(candidate)
      // remember it under the asked digest, so the next ask skips the package lookup
      if (cid !== undefined) await index.set(`${integrity} ${candidate}`, cid)
      return cid
    }
    return undefined
  }

  return {
    async lookup (integrity, pkg) {
      const cid = await byDigest(integrity, 'ask', pkg)
      if (cid !== undefined) return cid
      // not cached as a tarball, but maybe fetched as a DAG from peers, or found by package before
      const known = await index.get(integrity)
      if (known !== undefined && await blockstore.has(known) && await mayName(integrity, pkg)) return known
      return pkg === undefined ? undefined : await byPackage(integrity, pkg)
    },
    prepare: async (integrity, build) => byDigest(integrity, build ? 'background' : 'built'),
    async settled () {
      while (writing.size > 0) await Promise.all(writing)
    },
    async profileCid (integrity) {
      if (!await mayName(integrity)) return undefined
      let cid = await profileIndex.get(integrity)
      if (cid === undefined) {
        const info = await cacache.get.hasContent(cachePath, integrity)
        if (info === false || info.size > MAX_RAW_BLOCK) return undefined
        cid = CID.createV1(raw.code, Digest.create(sha256.code, createHash('sha256').update(await cacache.get.byDigest(cachePath, integrity)).digest()))
        await profileIndex.set(integrity, cid)
      }
      blockstore.alias(cid, integrity)
      return cid
    },
  }
}
