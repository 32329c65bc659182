/**
 * What this node may give its peers, block by block — the gate in front of bitswap (blocks and
 * HAVE/DONT_HAVE answers), the integrity → CID protocol and provider records.
 *
 * - A node that does not serve (an install without `--serve`) gives nothing.
 * - A node in a private network (swarm key) gives its members everything it holds: nobody else
 *   can connect to it.
 * - Any other node gives only public content: content some cache index entry says came from a
 *   URL the sharing policy calls public. npm's own entries (`make-fetch-happen:request-cache:<url>`,
 *   which plain npm wrote too, years before ipfs-npm) and ours (`ipfs-npm:tarball:…` with the URL
 *   in their metadata) name it; content no entry vouches for (git dependencies, entries without a
 *   URL) stays home. The blocks of a large tarball's UnixFS DAG are public once the tarball is;
 *   a signed index's blocks are stored marked shared (it holds public packuments only).
 *
 * The verdicts are built from one read of the cache index: started when a serving node starts
 * (`warm`, in the background), else the first time a peer asks, never for an install that serves
 * nothing. An ask made while that read is under way is answered as soon as the read has come to an
 * entry that vouches for its content (only "no" waits for the whole index: a later entry may still
 * vouch). What this process caches it learns as it goes (`learn`), and content present but
 * unknown (cached by another process since the read) is judged by a re-read that starts after the
 * ask — one for every asker meanwhile, rate-limited — before the peer is told we do not have it.
 * An ask that names its package (the CID protocol's) is first judged by that package's own index
 * entries, a bucket read each: the whole index took 100-200 ms of CPU for a large project's 400
 * entries and ~1 s under load, past half an asker's 2 s of patience for its first answer.
 */
import * as dagPb from '@ipld/dag-pb'
import cacache from 'cacache'
import type { CID } from 'multiformats/cid'
import type { SharingPolicy } from '../sharing.ts'
import type { TarballRef } from '../types.ts'
import type { CacheBlockstore } from './cache-blockstore.ts'
import { integrityOfCid } from './cid.ts'
import type { CidIndex } from './cid-index.ts'
import type { PackageId } from './package-tarballs.ts'
import { hashesOf, sriOf } from '../integrity.ts'
import { registryTarballUrl } from '../tarball-url.ts'

export interface Servable {
  /** Whether peers may have this block, or hear that we have it. */
  block(cid: CID): Promise<boolean>
  /**
   * Whether content cached under (any hash of) `integrity` may be named or sent to peers; `pkg`,
   * the package the asker says it is, lets the index entries npm and we write for that package
   * answer first (a bucket read each) before the whole index is read.
   */
  content(integrity: string, pkg?: PackageId): Promise<boolean>
  /**
   * Marks `cid` — the answer to a peer's question about content `content` just allowed — as
   * servable, with every block of its DAG.
   */
  allow(cid: CID): Promise<void>
  /**
   * Starts the read of the whole cache index the verdicts come from, if none has been made (a
   * fresh `serve` peer's first ask waited 0.2-1.8 s for it under load); settles when it is done.
   */
  warm(): Promise<void>
  /** Records that `ref`'s tarball was just cached here (public if its source is, `resolved` or its registry). */
  learn(ref: TarballRef): void
  /** Whether this node may ask peers for `ref` at all (its wants and questions name it). */
  mayAsk(ref: TarballRef): boolean
}

export interface ServableInit {
  cachePath: string
  blockstore: CacheBlockstore
  index: CidIndex
  sharing: SharingPolicy
  /** Whether the node serves at all. */
  serve: boolean
  /** Whether it runs in a private network (swarm key). */
  inSwarm: boolean
}

const MFH_PREFIX = 'make-fetch-happen:request-cache:'
const OUR_TARBALL = /^ipfs-npm:tarball:[^:]+:(.+)@[^@]+$/
const OUR_BLOCK = 'ipfs-npm:block:'
/**
 * The least time between the starts of two reads of the whole cache index for content cached
 * since the last (by another process: plain npm installing into this cache while serve runs): this
 * long, or 10 times what the last read took, whichever is more — a peer asking for content nobody
 * vouches for can keep us re-reading at most a tenth of the time, and an asker waits little.
 */
const RESCAN_INTERVAL = 250
const RESCAN_COST_FACTOR = 10
/** The least time between two reads of the local CID index for a DAG root nobody asked about. */
const REREAD_ROOTS_INTERVAL = 1000
/** A DAG is walked this deep at most (unixfs-v1-2025: 1024 links a node, so 2 levels hold 1 GiB). */
const MAX_DAG_DEPTH = 4

/** DAG root → the integrities of the content it holds, from the local CID index. */
type Roots = Map<string, string[]>

/**
 * Whether the content an index entry stores is public: by the URL the entry names, or by being a
 * block stored as shared (cache-blockstore.ts: a signed index's); undefined for entries that say
 * nothing (DAG blocks, git dependencies…).
 */
function verdictOf (entry: cacache.CacheObject, sharing: SharingPolicy): boolean | undefined {
  if (entry.key.startsWith(OUR_BLOCK)) return (entry.metadata as { shared?: unknown } | undefined)?.shared === true ? true : undefined
  const source = sourceOf(entry)
  return source === undefined ? undefined : !sharing.isPrivate(source)
}

/** The source an index entry names for its content, or undefined for entries that name none. */
function sourceOf (entry: cacache.CacheObject): { url?: string, name?: string } | undefined {
  if (entry.key.startsWith(MFH_PREFIX)) return { url: entry.key.slice(MFH_PREFIX.length) }
  const ours = OUR_TARBALL.exec(entry.key)
  if (ours === null) return undefined
  const url = (entry.metadata as { url?: unknown } | undefined)?.url
  return typeof url === 'string' ? { url, name: ours[1] } : undefined
}

/** Creates the gate. */
export function createServable (init: ServableInit): Servable {
  const { cachePath, blockstore, sharing } = init
  const allowed = new Set<string>()
  const learned = new Map<string, boolean>()
  let verdicts: Promise<Map<string, boolean>> | undefined
  /** The verdicts of the last completed read of the index. */
  let lastRead: Map<string, boolean> | undefined
  let scannedAt = 0
  let roots: Promise<Roots> | undefined
  let rootsReadAt = 0

  /** The verdicts of the read under way, so far. */
  let reading: Map<string, boolean> | undefined
  /** Asks waiting, during a read of the index, for an entry vouching for their content: by single-hash SRI. */
  const vouchedWaiters = new Map<string, Set<() => void>>()
  /** Resolves when the read under way meets an entry vouching for one of these SRIs (never if it does not). */
  const vouchedFor = async (sris: string[]): Promise<true> => await new Promise<true>((resolve) => {
    const wake = (): void => {
      for (const sri of sris) vouchedWaiters.get(sri)?.delete(wake)
      resolve(true)
    }
    for (const sri of sris) {
      let waiters = vouchedWaiters.get(sri)
      if (waiters === undefined) vouchedWaiters.set(sri, waiters = new Set())
      waiters.add(wake)
    }
  })
  /** Single-hash SRI → public, from the whole cache index. */
  let rescanAfter = RESCAN_INTERVAL
  const scan = async (): Promise<Map<string, boolean>> => {
    scannedAt = Date.now()
    const content = new Map<string, boolean>()
    reading = content
    try {
      for await (const entry of cacache.ls.stream(cachePath) as AsyncIterable<cacache.CacheObject>) {
        const open = entry.integrity === null || entry.integrity === undefined ? undefined : verdictOf(entry, sharing)
        if (open === undefined) continue
        for (const hash of hashesOf(String(entry.integrity))) {
          const sri = sriOf(hash)
          content.set(sri, content.get(sri) === true || open)
          if (open) for (const wake of vouchedWaiters.get(sri) ?? []) wake()
        }
      }
    } finally {
      // asks still waiting are answered by the whole read (their `read()`)
      vouchedWaiters.clear()
      reading = undefined
    }
    rescanAfter = Math.max(RESCAN_INTERVAL, RESCAN_COST_FACTOR * (Date.now() - scannedAt))
    lastRead = content
    return content
  }
  const read = async (): Promise<Map<string, boolean>> => {
    verdicts ??= scan()
    return await verdicts
  }
  /** The next read of the index to start from now on (a read under way may predate the entry asked about). */
  let nextScan: Promise<Map<string, boolean>> | undefined
  const rescan = async (): Promise<Map<string, boolean>> => {
    nextScan ??= (async () => {
      await verdicts?.catch(() => {})
      const wait = scannedAt + rescanAfter - Date.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      nextScan = undefined
      verdicts = scan()
      return await verdicts
    })()
    return await nextScan
  }
  const readRoots = async (): Promise<Roots> => {
    rootsReadAt = Date.now()
    const found: Roots = new Map()
    for await (const [integrity, root] of init.index.entries()) {
      const key = root.toString()
      found.set(key, [...found.get(key) ?? [], integrity])
    }
    return found
  }
  /** What the index says `root` holds; read again (at most every second) when it says nothing. */
  const heldBy = async (root: CID): Promise<string[]> => {
    roots ??= readRoots()
    const held = (await roots).get(root.toString())
    if (held !== undefined || Date.now() - rootsReadAt < REREAD_ROOTS_INTERVAL) return held ?? []
    roots = readRoots()
    return (await roots).get(root.toString()) ?? []
  }

  const knownOpen = (content: Map<string, boolean>, integrity: string): boolean | undefined => {
    let verdict: boolean | undefined
    for (const hash of hashesOf(integrity)) {
      const sri = sriOf(hash)
      const open = learned.get(sri) ?? content.get(sri)
      if (open === true) return true
      if (open === false) verdict = false
    }
    return verdict
  }

  /**
   * Public by an index entry for `pkg` that stores this very content: ours (one per algorithm
   * cached) or npm's HTTP cache's for the registry npm would fetch it from. Undefined when none
   * says so; the whole index then decides, as any other entry may vouch for the same bytes.
   */
  const openByPackage = async (integrity: string, pkg: PackageId): Promise<true | undefined> => {
    const hashes = hashesOf(integrity)
    const asked = new Set(hashes.map(sriOf))
    // src/cache.ts files a tarball under sha512 and each algorithm of its integrity
    const algorithms = new Set(['sha512', ...hashes.map((hash) => hash.algorithm)])
    const keys = [
      ...[...algorithms].map((algorithm) => `ipfs-npm:tarball:${algorithm}:${pkg.name}@${pkg.version}`),
      MFH_PREFIX + registryTarballUrl(sharing.registryFor(pkg.name), pkg.name, pkg.version),
    ]
    const entries = await Promise.all(keys.map(async (key) => cacache.get.info(cachePath, key).catch(() => null)))
    for (const entry of entries) {
      if (entry === null || entry.integrity === null || entry.integrity === undefined || verdictOf(entry, sharing) !== true) continue
      const stored = hashesOf(String(entry.integrity)).map(sriOf)
      if (!stored.some((sri) => asked.has(sri))) continue
      for (const sri of stored) learned.set(sri, true)
      return true
    }
    return undefined
  }

  const contentOpen = async (integrity: string, pkg?: PackageId): Promise<boolean> => {
    // before the first read of the index is done; after it, its verdicts are in memory
    if (pkg !== undefined && lastRead === undefined && (knownOpen(new Map(), integrity) === true || await openByPackage(integrity, pkg) === true)) return true
    // the first read under way answers "yes" as soon as it meets an entry that says so
    if (lastRead === undefined && reading !== undefined) {
      if (knownOpen(reading, integrity) === true) return true
      if (await Promise.race([read().then(() => false), vouchedFor(hashesOf(integrity).map(sriOf))])) return true
    }
    const known = knownOpen(await read(), integrity)
    if (known !== undefined) return known
    // cached after our read of the index (by another process)? judged by the next read
    const present = await Promise.all(hashesOf(integrity).map(async (hash) => cacache.get.hasContent(cachePath, sriOf(hash)).catch(() => false)))
    if (!present.some((info) => info !== false)) return false
    return knownOpen(await rescan(), integrity) === true
  }

  /** Adds `cid` and, for a DAG node, everything below it to the servable blocks. */
  const allowTree = async (cid: CID, depth: number): Promise<void> => {
    allowed.add(cid.toString())
    if (cid.code !== dagPb.code || depth >= MAX_DAG_DEPTH) return
    let bytes: Uint8Array | undefined
    for await (const chunk of blockstore.get(cid)) bytes = chunk
    if (bytes === undefined) return
    for (const link of dagPb.decode(bytes).Links) await allowTree(link.Hash, depth + 1)
  }

  const everything = init.serve && init.inSwarm

  return {
    async block (cid) {
      if (!init.serve) return false
      if (everything || allowed.has(cid.toString())) return true
      // a block some cache entry vouches for: a public tarball, a block stored shared
      const integrity = integrityOfCid(cid)
      if (integrity !== undefined && await contentOpen(integrity)) return true
      if (cid.code !== dagPb.code) return false
      // a DAG root asked for directly (a stock IPFS node that learned it elsewhere): public if the
      // tarball the local index says it holds is
      for (const held of await heldBy(cid)) {
        if (await contentOpen(held)) {
          await allowTree(cid, 0).catch(() => {})
          return true
        }
      }
      return false
    },
    async content (integrity, pkg) {
      if (!init.serve) return false
      return everything || await contentOpen(integrity, pkg)
    },
    async allow (cid) {
      if (!init.serve || everything) return
      await allowTree(cid, 0)
    },
    async warm () {
      if (!init.serve || everything) return
      await read().then(() => {}, () => {})
    },
    learn (ref) {
      if (everything || !init.serve || sharing.isPrivate({ url: ref.resolved, name: ref.name })) return
      for (const hash of hashesOf(ref.integrity)) learned.set(sriOf(hash), true)
    },
    mayAsk (ref) {
      return init.inSwarm || !sharing.isPrivate({ url: ref.resolved, name: ref.name })
    },
  }
}
