/**
 * The blocks of a signed index (see signed-index.ts), as any IPFS tool can walk them: dag-json,
 * CIDv1, sha2-256.
 *
 *   root      { "ipfs-npm-index": 1, "packages": { "<name>": <link to packument block> } }
 *   packument { "name", "dist-tags", "time"?, "versions": { "<version>": <manifest> | <link> } }
 *
 * A manifest is the registry's version document with `dist.cid` (the 2019 registry-mirror field:
 * the tarball's raw CID, or its UnixFS root when it is over 1 MiB). Manifests sit inline in their
 * packument block while it stays under MAX_BLOCK; a package with more history than that keeps each
 * version in a block of its own, so no block ever outgrows what bitswap carries.
 */
import * as dagJson from '@ipld/dag-json'
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { npmError } from '../errors.ts'

/** The largest block we make (bitswap's practical limit is 1–2 MiB; our messages carry 1 MiB). */
export const MAX_BLOCK = 1024 * 1024

export const INDEX_FORMAT = 1

/** A version document as the registry serves it (plus `dist.cid` in an index). */
export interface Manifest {
  name: string
  version: string
  dist: { integrity?: string, shasum?: string, tarball?: string, cid?: string, [key: string]: unknown }
  [key: string]: unknown
}

/** A packument as the registry serves it (full or abbreviated). */
export interface Packument {
  name: string
  'dist-tags': Record<string, string>
  versions: Record<string, Manifest>
  time?: Record<string, string>
  modified?: string
  [key: string]: unknown
}

export interface RootNode {
  'ipfs-npm-index': number
  packages: Record<string, CID>
}

export interface PackumentNode {
  name: string
  'dist-tags': Record<string, string>
  time?: Record<string, string>
  versions: Record<string, Manifest | CID>
}

/** An encoded block and its CID. */
export interface Block {
  cid: CID
  bytes: Uint8Array
}

/** A block that is not what its CID or our format says; the message names which. */
export const indexBlockError = (message: string): Error => npmError('EINDEXBLOCK', message)

export function encodeBlock (value: unknown): Block {
  const bytes = dagJson.encode(value)
  const digest = createHash('sha256').update(bytes).digest()
  return { cid: CID.createV1(dagJson.code, Digest.create(sha256.code, digest)), bytes }
}

/** Checks `bytes` against `cid` (hash and codec) before a byte of it is believed, then decodes. */
export function decodeBlock (cid: CID, bytes: Uint8Array): unknown {
  if (cid.code !== dagJson.code || cid.multihash.code !== sha256.code) {
    throw indexBlockError(`index block ${cid} is not a dag-json sha2-256 block`)
  }
  const digest = createHash('sha256').update(bytes).digest()
  if (!Buffer.from(cid.multihash.digest).equals(digest)) throw indexBlockError(`index block ${cid}: the bytes received do not match the CID`)
  try {
    return dagJson.decode(bytes)
  } catch (err) {
    throw indexBlockError(`index block ${cid} is not dag-json: ${(err as Error).message}`)
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

export function asRoot (cid: CID, value: unknown): RootNode {
  if (!isObject(value) || value['ipfs-npm-index'] !== INDEX_FORMAT || !isObject(value.packages) ||
    !Object.values(value.packages).every((link) => CID.asCID(link) !== null)) {
    throw indexBlockError(`index root ${cid} is not an ipfs-npm index (format ${INDEX_FORMAT})`)
  }
  return value as unknown as RootNode
}

export function asPackumentNode (cid: CID, name: string, value: unknown): PackumentNode {
  if (!isObject(value) || value.name !== name || !isObject(value.versions) || !isObject(value['dist-tags'])) {
    throw indexBlockError(`index block ${cid} is not the packument of ${name}`)
  }
  return value as unknown as PackumentNode
}

export function asManifest (cid: CID, name: string, version: string, value: unknown): Manifest {
  if (!isObject(value) || value.name !== name || value.version !== version || !isObject(value.dist)) {
    throw indexBlockError(`index block ${cid} is not the manifest of ${name}@${version}`)
  }
  return value as Manifest
}

/**
 * The blocks for one package: its packument block (returned first) and, when the manifests do not
 * fit in it, one block per version. JSON values dag-json cannot carry (a `"/"` key) are refused.
 */
export function packumentBlocks (packument: Packument): Block[] {
  const node: PackumentNode = {
    name: packument.name,
    'dist-tags': packument['dist-tags'],
    versions: packument.versions,
    ...(packument.time === undefined ? {} : { time: packument.time }),
  }
  const inline = encodeBlock(node)
  if (inline.bytes.byteLength <= MAX_BLOCK) return [inline]
  const versionBlocks = Object.values(packument.versions).map((manifest) => encodeBlock(manifest))
  const linked = encodeBlock({ ...node, versions: Object.fromEntries(Object.keys(packument.versions).map((v, i) => [v, versionBlocks[i].cid])) })
  const oversized = [linked, ...versionBlocks].find((block) => block.bytes.byteLength > MAX_BLOCK)
  if (oversized !== undefined) throw indexBlockError(`${packument.name}: a block of its packument is over ${MAX_BLOCK} bytes`)
  return [linked, ...versionBlocks]
}

export function rootBlock (packages: ReadonlyMap<string, CID>): Block {
  const sorted = [...packages.keys()].sort()
  const block = encodeBlock({ 'ipfs-npm-index': INDEX_FORMAT, packages: Object.fromEntries(sorted.map((name) => [name, packages.get(name)])) })
  if (block.bytes.byteLength > MAX_BLOCK) throw indexBlockError(`the index root lists too many packages for one block (${sorted.length})`)
  return block
}
