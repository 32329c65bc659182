/**
 * Signed indexes: a registry's metadata on IPFS under a name only its key can move (the 2015
 * registry-mirror design, with the 2019 mirror's `dist.cid`).
 *
 * An index is packuments as dag-json blocks (index-format.ts), a root block listing them, and an
 * IPNS V2 record (signed, with a sequence and an end of validity) pointing the index's name at
 * the root (index-records.ts). Publishing writes the blocks where this node serves them, makes the
 * next record, and hands it to the network (announced on the name's pubsub topic, served to any
 * peer that asks). Reading checks everything before it is believed: the record's signature
 * against the name, its validity, its sequence against the newest one ever accepted here (never a
 * roll-back), and every block against its CID.
 *
 * API (all parts passed in; `src/ipfs` provides the network ones):
 *
 *   const indexes = createSignedIndexes({ blocks, records, stateDir })
 *
 *   // publishing (`serve --index`, `publish --index`)
 *   const index = await indexes.open()                // this cache's default key, made on first use
 *   const index = await indexes.open({ keyFile })     // or a key file the operator names
 *   index.name                                        // 'k51…', what clients put in --index
 *   await index.addVersion(manifest, { tags: ['latest'] })   // EPUBLISHCONFLICT if already there
 *   await index.addPackument(packument)               // a registry packument, merged in
 *   await index.packument('@myco/util')               // as it stands, unpublished changes included
 *   const { root, sequence } = await index.publish()  // new record, announced
 *
 *   // reading (installs, `serve --registry-from-index`)
 *   const { root, sequence, validUntil } = await indexes.resolve('k51…')  // EINDEXRECORD when refused
 *   await indexes.resolve('self')                     // this cache's own index
 *   const packument = await indexes.packument('k51…', 'express')         // undefined: not in it
 *
 * A manifest's `dist.cid` is what the publisher's `cidOf` says for its integrity (the raw CID of
 * a small tarball, the UnixFS root of a large one); without it the field is left out and clients
 * find the tarball by its integrity as for any lockfile entry.
 */
import type { PrivateKey } from '@libp2p/interface'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { npmError } from '../errors.ts'
import { OWN_INDEX } from '../options.ts'
import {
  asManifest, asPackumentNode, asRoot, decodeBlock, indexBlockError, packumentBlocks, rootBlock,
  type Block, type Manifest, type Packument, type PackumentNode,
} from './index-format.ts'
import { defaultIndexKeyFile, indexNameOf, loadIndexKey, parseIndexName, type IndexName } from './index-key.ts'
import { checkIndexRecord, createIndexRecord, createRecordMemory, indexRecordError, isIndexRecordError, type CheckedRecord, type IndexRecordError } from './index-records.ts'

export type { Manifest, Packument } from './index-format.ts'
export { parseIndexName } from './index-key.ts'

/** Blocks by CID: ours first, then peers'. What `get` returns is checked here, never trusted. */
export interface IndexBlocks {
  /** `timeout`: how long peers get once the node is ready (startup and dialling do not count). */
  get(cid: CID, options: { timeout: number }): Promise<Uint8Array>
  /** Stores a block where this node serves it to peers. */
  put(block: Block): Promise<void>
}

/** Where IPNS records travel. Records are unchecked bytes both ways. */
export interface IndexRecordTransport {
  /** Serves `record` as ours from now on, and announces it (pubsub, DHT when there is one). */
  publish(routingKey: Uint8Array, record: Uint8Array): Promise<void>
  /** Answers peers asking for `routingKey` with `record` (one accepted from another publisher), without announcing it. */
  serve(routingKey: Uint8Array, record: Uint8Array): void
  /** Every record of `routingKey` peers hold or announced, gathered for `timeout` ms once the node is ready, or until all answered. */
  find(routingKey: Uint8Array, options: { timeout: number }): Promise<Uint8Array[]>
  /** Calls `listener` whenever a record of a name we read is announced (pubsub). */
  onAnnounce(listener: (routingKey: Uint8Array) => void): void
}

export interface SignedIndexComponents {
  blocks: IndexBlocks
  records: IndexRecordTransport
  /** `<cache>/_ipfs-npm`: default key, publishers' state, the newest record accepted per name. */
  stateDir: string
  log?: (msg: string) => void
}

export interface SignedIndexesInit {
  /** How long a published record stays valid, in ms. Default: 7 days (re-published on change). */
  lifetime?: number
  /** The TTL a record suggests to caches, in ms. Default: 5 minutes. */
  ttl?: number
  /** How long to gather records and blocks from peers, in ms. Default: 2000. */
  timeout?: number
}

export interface ResolvedIndex {
  name: string
  root: CID
  sequence: bigint
  validUntil: Date
}

export interface WritableIndex {
  /** The index's name (`k51…`). */
  readonly name: string
  /** Adds one version; refuses (EPUBLISHCONFLICT) one already there unless `replace`. `tags` move dist-tags to it. */
  addVersion(manifest: Manifest, options?: { tags?: string[], replace?: boolean, time?: string }): Promise<void>
  /** Merges a registry packument: its versions (new ones added, known ones replaced), dist-tags and times. */
  addPackument(packument: Packument): Promise<void>
  /** The packument as it stands here, unpublished changes included; undefined when absent. */
  packument(name: string): Promise<Packument | undefined>
  /** Whether anything changed since the last publish. */
  readonly changed: boolean
  /** Writes the root, signs the next record and hands it to the network. */
  publish(): Promise<ResolvedIndex>
}

export interface SignedIndexes {
  open(options?: { keyFile?: string }): Promise<WritableIndex>
  resolve(name: string | IndexName): Promise<ResolvedIndex>
  packument(name: string | IndexName, pkg: string): Promise<Packument | undefined>
}

/** A version the index already has (as the registry's 403 for a republish). */
const indexConflictError = (message: string): Error => npmError('EPUBLISHCONFLICT', message)

/** A record with a TTL of 0 (as some publishers make) is still not resolved again for every package. */
const MIN_RESOLUTION_AGE = 30_000

const DEFAULTS = { lifetime: 7 * 24 * 3600_000, ttl: 5 * 60_000, timeout: 2000 }

interface PublisherState {
  root: string
  sequence: string
}

export function createSignedIndexes (components: SignedIndexComponents, init: SignedIndexesInit = {}): SignedIndexes {
  const { blocks, records, stateDir } = components
  const log = components.log ?? (() => {})
  const lifetime = init.lifetime ?? DEFAULTS.lifetime
  const ttl = init.ttl ?? DEFAULTS.ttl
  const timeout = init.timeout ?? DEFAULTS.timeout
  const memory = createRecordMemory(stateDir)
  /** Decoded blocks by CID string: a block checked once is not fetched or hashed again. */
  const decoded = new Map<string, Promise<unknown>>()
  /**
   * Resolutions per routing key, kept for the record's TTL (an install sees one view of each
   * index; a long-lived serve the latest), or until a new record is announced.
   */
  const resolutions = new Map<string, { pending: Promise<ResolvedIndex>, until: number }>()
  const keyOf = (index: IndexName): string => Buffer.from(index.routingKey).toString('base64')
  records.onAnnounce((routingKey) => resolutions.delete(Buffer.from(routingKey).toString('base64')))

  const block = (cid: CID): Promise<unknown> => {
    const key = cid.toString()
    let pending = decoded.get(key)
    if (pending === undefined) {
      pending = blocks.get(cid, { timeout }).then(async (bytes) => {
        const value = decodeBlock(cid, bytes)
        await blocks.put({ cid, bytes }).catch((err: Error) => log(`index: keeping block ${cid}: ${err.message}`))
        return value
      }, (err: Error) => {
        throw indexBlockError(`index block ${cid} not found on any peer (${err.message})`)
      })
      pending.catch(() => decoded.delete(key))
      decoded.set(key, pending)
    }
    return pending
  }

  /** The packument whose block is `link`, reassembled (its manifests fetched where linked). */
  async function assemble (link: CID, name: string): Promise<Packument> {
    const node: PackumentNode = asPackumentNode(link, name, await block(link))
    const versions = await Promise.all(Object.entries(node.versions).map(async ([version, value]) => {
      const linked = CID.asCID(value)
      return [version, linked === null ? asManifest(link, name, version, value) : asManifest(linked, name, version, await block(linked))] as const
    }))
    return { name, 'dist-tags': node['dist-tags'], versions: Object.fromEntries(versions), ...(node.time === undefined ? {} : { time: node.time }) }
  }

  /** The packument `root` lists for `name`; undefined when it lists none. */
  async function packumentAt (root: CID, name: string): Promise<Packument | undefined> {
    const { packages } = asRoot(root, await block(root))
    const link = Object.hasOwn(packages, name) ? CID.asCID(packages[name]) : null
    return link === null ? undefined : assemble(link, name)
  }

  async function resolveNow (index: IndexName): Promise<ResolvedIndex> {
    const seen = await memory.sequence(index)
    const found = await records.find(index.routingKey, { timeout }).catch(() => [])
    const kept = await memory.get(index)
    const candidates = kept === undefined ? found : [...found, kept]
    const refusals: IndexRecordError[] = []
    let best: CheckedRecord | undefined
    for (const bytes of candidates) {
      try {
        const record = await checkIndexRecord(index, bytes)
        if (record.sequence < seen) throw indexRecordError(`index ${index.name}: a peer offered sequence ${record.sequence}, older than sequence ${seen} already seen; refusing to roll back`, 'rollback')
        if (best === undefined || record.sequence > best.sequence) best = record
      } catch (err) {
        if (!isIndexRecordError(err)) throw err
        refusals.push(err)
      }
    }
    for (const refusal of refusals) log(refusal.message)
    if (best === undefined) {
      if (refusals.length > 0) {
        // the most telling refusal: a roll-back or forgery beats the expiry of our own old copy
        throw refusals.find((err) => err.reason !== 'expired') ?? refusals[0]
      }
      throw indexRecordError(`index ${index.name}: no peer has its record`, 'missing')
    }
    await memory.remember(index, best)
    records.serve(index.routingKey, best.bytes)
    const resolution = resolutions.get(keyOf(index))
    if (resolution !== undefined) resolution.until = Date.now() + Math.max(best.ttl, MIN_RESOLUTION_AGE)
    return { name: index.name, root: best.root, sequence: best.sequence, validUntil: best.validUntil }
  }

  /** `self` (a bare `--index`) is this cache's own index, named by its default key. */
  const nameOf = async (name: string | IndexName): Promise<IndexName> => {
    if (typeof name !== 'string') return name
    return name === OWN_INDEX ? indexNameOf(await loadIndexKey(defaultIndexKeyFile(join(stateDir, '..')))) : parseIndexName(name)
  }

  async function resolve (name: string | IndexName): Promise<ResolvedIndex> {
    const index = await nameOf(name)
    const key = keyOf(index)
    const kept = resolutions.get(key)
    if (kept !== undefined && kept.until > Date.now()) return kept.pending
    // until it settles, every ask shares this resolution
    const pending = resolveNow(index)
    const entry = { pending, until: Infinity }
    pending.catch(() => { if (resolutions.get(key) === entry) resolutions.delete(key) })
    resolutions.set(key, entry)
    return pending
  }

  async function open (options: { keyFile?: string } = {}): Promise<WritableIndex> {
    const key: PrivateKey = await loadIndexKey(options.keyFile ?? defaultIndexKeyFile(join(stateDir, '..')))
    const index = indexNameOf(key)
    const stateFile = join(stateDir, 'indexes', `${index.name}.json`)
    const packages = new Map<string, CID>()
    let base: string | undefined
    let sequence = -1n
    /** Packuments changed since the last publish, by name. */
    const edits = new Map<string, Packument>()
    /**
     * Reads the published state when another process (a `publish --index` beside a serve) moved
     * it: this index's unpublished edits then go on top of that root, not over it.
     */
    const catchUp = async (): Promise<void> => {
      let state: PublisherState
      try {
        state = JSON.parse(await readFile(stateFile, 'utf8')) as PublisherState
      } catch {
        return
      }
      if (BigInt(state.sequence) > sequence) sequence = BigInt(state.sequence)
      if (state.root === base) return
      const root = CID.parse(state.root)
      const before = new Map(packages)
      packages.clear()
      for (const [name, link] of Object.entries(asRoot(root, await block(root)).packages)) packages.set(name, CID.asCID(link) as CID)
      base = state.root
      // a package both writers changed: the other's versions stay, ours go on top
      for (const [name, ours] of edits) {
        const link = packages.get(name)
        if (link === undefined || before.get(name)?.equals(link) === true) continue
        const theirs = await assemble(link, name)
        edits.set(name, {
          ...theirs,
          ...ours,
          versions: { ...theirs.versions, ...ours.versions },
          'dist-tags': { ...theirs['dist-tags'], ...ours['dist-tags'] },
          ...(theirs.time === undefined && ours.time === undefined ? {} : { time: { ...theirs.time, ...ours.time } }),
        })
      }
    }
    await catchUp()
    let changed = false

    const current = async (name: string): Promise<Packument | undefined> => {
      const edited = edits.get(name)
      if (edited !== undefined) return edited
      const link = packages.get(name)
      return link === undefined ? undefined : assemble(link, name)
    }

    const store = async (packument: Packument): Promise<void> => {
      const made = packumentBlocks(packument)
      for (const made1 of made) await blocks.put(made1)
      packages.set(packument.name, made[0].cid)
      edits.delete(packument.name)
      changed = true
    }

    return {
      name: index.name,
      get changed () {
        return changed || edits.size > 0
      },
      async addVersion (manifest, addOptions = {}) {
        const existing = await current(manifest.name)
        if (existing?.versions[manifest.version] !== undefined && addOptions.replace !== true) {
          throw indexConflictError(`cannot publish over the previously published version ${manifest.version} of ${manifest.name} in index ${index.name}`)
        }
        const next: Packument = existing === undefined
          ? { name: manifest.name, 'dist-tags': {}, versions: {} }
          : { ...existing, 'dist-tags': { ...existing['dist-tags'] }, versions: { ...existing.versions } }
        next.versions[manifest.version] = manifest
        for (const tag of addOptions.tags ?? (existing === undefined ? ['latest'] : [])) next['dist-tags'][tag] = manifest.version
        const time = addOptions.time ?? new Date().toISOString()
        next.time = { ...next.time, [manifest.version]: time, modified: time, ...(existing === undefined ? { created: time } : {}) }
        edits.set(manifest.name, next)
      },
      async addPackument (packument) {
        const existing = await current(packument.name)
        edits.set(packument.name, existing === undefined ? packument : {
          ...existing,
          ...packument,
          versions: { ...existing.versions, ...packument.versions },
          'dist-tags': { ...existing['dist-tags'], ...packument['dist-tags'] },
          ...(existing.time === undefined && packument.time === undefined ? {} : { time: { ...existing.time, ...packument.time } }),
        })
      },
      packument: current,
      async publish () {
        await catchUp()
        for (const packument of [...edits.values()]) await store(packument)
        const root = rootBlock(packages)
        await blocks.put(root)
        // a key copied to another machine must not publish a sequence its clients already passed
        sequence = [sequence, await memory.sequence(index)].reduce((a, b) => a > b ? a : b) + 1n
        const bytes = await createIndexRecord(key, root.cid, sequence, lifetime, ttl)
        const record = await checkIndexRecord(index, bytes)
        await mkdir(join(stateDir, 'indexes'), { recursive: true })
        const temp = `${stateFile}.${process.pid}.tmp`
        await writeFile(temp, JSON.stringify({ root: root.cid.toString(), sequence: sequence.toString() } satisfies PublisherState))
        await rename(temp, stateFile)
        base = root.cid.toString()
        await memory.remember(index, record)
        resolutions.set(keyOf(index), { pending: Promise.resolve({ name: index.name, root: root.cid, sequence, validUntil: record.validUntil }), until: Date.now() + record.ttl })
        await records.publish(index.routingKey, bytes)
        changed = false
        log(`index ${index.name}: published sequence ${sequence}, root ${root.cid}`)
        return { name: index.name, root: root.cid, sequence, validUntil: record.validUntil }
      },
    }
  }

  return {
    open,
    resolve,
    async packument (name, pkg) {
      const { root } = await resolve(name)
      return packumentAt(root, pkg)
    },
  }
}
