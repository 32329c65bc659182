/**
 * The CID under which this node can serve a tarball it has, by integrity — the answering side of
 * the CID protocol, and what `serve` prepares and provides ahead of any ask. Small tarballs are
 * their raw block; a large one's UnixFS DAG is built from the cached tarball (hashing a few MiB
 * once) and remembered in the index: ahead of time by `serve` (see seeder.ts), else the first time
 * a peer asks. An integrity the cache does not key content by (a sha1-only lock entry: npm stores
 * the tarball under sha512) is found through the asked package version's cache entries, then checked.
 */
import { setImmediate as yieldToEvents } from 'node:timers/promises'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import cacache from 'cacache'
import ssri from 'ssri'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { contentPath, type CacheBlockstore } from './cache-blockstore.ts'
import { MAX_RAW_BLOCK, importTarball, rawCidFromDigest, rawCidFromIntegrity } from './cid.ts'
import type { CidIndex } from './cid-index.ts'
import { MAX_TARBALL } from './fetch-dag.ts'
import { hashesOf, matchesIntegrity, sriOf } from '../integrity.ts'
import type { PackageId, PackageTarballs } from './package-tarballs.ts'

/** Blocks (1 MiB each) a background build holds while their writes are under way. */
const BACKGROUND_WRITES = 4

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
}

/** Returns the lookup; concurrent asks for one tarball share one DAG build. */
export function createLocalCids (init: LocalCidsInit): LocalCids {
  const { cachePath, blockstore, index, packageTarballs, profileIndex, mayName } = init
  /** DAG builds under way, by single-hash integrity: the root is known before the blocks are on disk. */
  const building = new Map<string, Promise<CID>>()

  /**
   * Imports the cached tarball as a DAG, resolving with the root as soon as every block is hashed:
   * the blockstore serves blocks from memory while their writes finish (seconds on a busy disk,
   * past an asker's timeout), so a peer asking while serve builds in the background is answered
   * as fast. In the background, at most BACKGROUND_WRITES blocks wait to be written (memory), and
   * the build yields between blocks (CPU). The index learns the root once every block is written.
   */
  const buildDag = async (integrity: string, background: boolean): Promise<{ root: CID, written: Promise<void> }> => {
    // read 1 MiB at a time and check the digest ourselves: cacache's stream reads 64 MiB at once,
    // and the chunks cut from a read keep all of it alive until the last is written
    const hash = ssri.parse(integrity, { single: true }) as unknown as ssri.Hash
    const check = createHash(hash.algorithm)
    const sha512 = createHash('sha512')
    const hashing = (async function * () {
      for await (const chunk of createReadStream(contentPath(cachePath, integrity), { highWaterMark: MAX_RAW_BLOCK }) as AsyncIterable<Buffer>) {
        check.update(chunk)
        sha512.update(chunk)
        yield chunk
      }
      if (check.digest('base64') !== hash.digest) throw new Error(`cached content of ${integrity} does not match its digest`)
    })()
    const writes: Array<Promise<CID>> = []
    const pending = new Set<Promise<unknown>>()
    const root = await importTarball(hashing, {
      put: async (cid, bytes) => {
        const write = Promise.resolve(blockstore.put(cid, bytes))
        writes.push(write)
        if (background) {
          const settled = write.catch(() => {}).finally(() => pending.delete(settled))
          pending.add(settled)
          if (pending.size >= BACKGROUND_WRITES) await Promise.race(pending)
          await yieldToEvents()
        }
        return cid
      },
    })
    // record under the tarball's sha512 too, so asks by a full modern integrity find it
    const written = Promise.all(writes).then(async () => index.set(`${integrity} sha512-${sha512.digest('base64')}`, root))
    return { root, written }
  }

  /** The root; in the background, only once every block is written, so builds go one at a time. */
  const dagOf = async (integrity: string, background: boolean): Promise<CID> => {
    let build = building.get(integrity)
    if (build === undefined) {
      const started = buildDag(integrity, background)
      build = started.then(({ root }) => root)
      building.set(integrity, build)
      // a failed write leaves the index without the root: the next ask builds again
      void started.then(async ({ written }) => written).catch(() => {}).finally(() => building.delete(integrity))
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
