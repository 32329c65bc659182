/**
 * `ipfs-npm install <cid>`, `<name>@<cid>` and `ipfs://<cid>`: exact bytes by content address.
 *
 * npm's own parser rejects `ipfs:`, so nothing of the CID is written. A CID spec becomes the plain
 * registry spec `name@version` its tarball's package.json names, with that tarball's integrity:
 * the bytes go into npm's cache, and the shim adds the version to the registry's packument when
 * the registry lacks it (a package only peers have). package.json gets `"name": "version"`, the
 * lockfile the registry's URL and the integrity — what plain npm reads, and what `ipfs-npm ci`
 * elsewhere turns back into the same CID (a raw CID is the integrity's sha512; a larger tarball's
 * root is asked of peers by integrity). A registry version with other bytes under the same
 * name@version is refused: the lockfile and the registry would disagree about what it is.
 */
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import { npmError } from './errors.ts'
import type { LocalManifest, LocalVersions } from './registry/local-versions.ts'
import { bodyBytes } from './registry/packument.ts'
import type { RegistryUpstream } from './registry/upstream.ts'
import { readTarballManifest, registryVersion, type TarballManifest } from './tarball-manifest.ts'
import { registryTarballUrl } from './tarball-url.ts'
import type { TarballCache, TarballResolver } from './types.ts'
import type { IpfsNode } from './ipfs/index.ts'

const require = createRequire(import.meta.url)

/** A spec naming a CID, as typed. */
export interface CidSpec {
  /** What the user typed. */
  spec: string
  /** The name before `@`, when given (`util@bafy…`). */
  alias?: string
  cid: string
}

// cheap shapes of a CID, checked before anything is loaded: CIDv0 (base58, `Qm…`) and CIDv1 in
// the multibase prefixes people paste (base32 `b…`, base58btc `z…`, base36 `k…`, hex `f…`)
const CID_SHAPE = /^(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{50,}|z[1-9A-HJ-NP-Za-km-z]{40,}|k[0-9a-z]{45,}|f[0-9a-f]{60,})$/

/** The CID a spec names, or undefined for every other npm spec. */
export function cidSpecOf (spec: string): CidSpec | undefined {
  if (spec.startsWith('ipfs://')) return { spec, cid: spec.slice('ipfs://'.length).replace(/\/+$/, '') }
  if (CID_SHAPE.test(spec)) return { spec, cid: spec }
  const at = spec.indexOf('@', 1)
  if (at === -1) return undefined
  const rest = spec.slice(at + 1)
  const cid = rest.startsWith('ipfs://') ? rest.slice('ipfs://'.length) : rest
  return CID_SHAPE.test(cid) || rest.startsWith('ipfs://') ? { spec, alias: spec.slice(0, at), cid } : undefined
}

export interface CidSpecsInit {
  cache: TarballCache
  /** Takes the bytes from peers, so the fetch phase stores and counts them as from peers. */
  resolver: TarballResolver
  upstream: RegistryUpstream
  localVersions: LocalVersions
  /** The started IPFS node, or undefined offline. */
  node(): Promise<IpfsNode | undefined>
  /** npm's flat options, for pacote. */
  flat: Record<string, unknown>
}


interface Dist { integrity?: string, shasum?: string }

/** The registry's dist of `name@version`, undefined when it has none (or cannot be reached). */
async function registryDist (upstream: RegistryUpstream, name: string, version: string): Promise<Dist | undefined> {
  try {
    const answer = await upstream.request({ method: 'GET', path: encodeURIComponent(name).replace(/^%40/, '@'), name, headers: { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*' } })
    const body = await bodyBytes(answer)
    if (answer.status !== 200) return undefined
    const packument = JSON.parse(body.toString('utf8')) as { versions?: Record<string, { dist?: Dist }> }
    return packument.versions?.[version]?.dist ?? undefined
  } catch {
    return undefined
  }
}

function sameBytes (dist: Dist, integrity: string, shasum: string): boolean {
  const ssri = require('ssri') as { parse(sri: string): { match(other: string): unknown } | null }
  if (typeof dist.integrity === 'string') return Boolean(ssri.parse(dist.integrity)?.match(integrity))
  return dist.shasum === shasum
}

/** A CID's tarball: its bytes (checked against the CID), its package.json, its integrity. */
export interface CidTarball {
  cid: string
  bytes: Uint8Array
  manifest: TarballManifest
  /** sha512, as the registry's `dist.integrity`. */
  integrity: string
  /** sha1 hex, as the registry's `dist.shasum`. */
  shasum: string
  /** Whether the bytes were in npm's cache already, or came from peers. */
  origin: 'cache' | 'peers'
}

/** The tarball a CID names, from npm's cache when a raw CID's digest is there, else from peers. */
export async function fetchCidTarball (spec: CidSpec, init: Pick<CidSpecsInit, 'cache' | 'node' | 'flat'>): Promise<CidTarball> {
  const ipfs = await import('./ipfs/index.ts')
  const cid = ipfs.parseTarballCid(spec.cid)
  const known = ipfs.tarballIntegrityOfCid(cid)
  let bytes = known === undefined ? undefined : await init.cache.get(known)
  const origin = bytes === undefined ? 'peers' : 'cache'
  if (bytes === undefined) {
    const node = await init.node()
    if (node === undefined) throw npmError('ENOTCACHED', `${spec.spec} is not in npm's cache, and --offline asks no peer for it`)
    bytes = await node.content(spec.cid)
  }
  const manifest = await readTarballManifest(spec.spec, bytes, init.flat)
  return {
    cid: cid.toString(),
    bytes,
    manifest,
    integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
    shasum: createHash('sha1').update(bytes).digest('hex'),
    origin,
  }
}

/**
 * Fetches a CID's tarball, hands it to the resolver (the fetch phase caches it and counts it as
 * from peers), makes the shim know its version when the registry does not, and returns the
 * registry spec to install instead.
 */
export async function resolveCidSpec (spec: CidSpec, init: CidSpecsInit): Promise<string> {
  const { cid, bytes, manifest, integrity, shasum, origin } = await fetchCidTarball(spec, init)
  const { name, version } = manifest
  const registry = init.upstream.registryFor(name)
  const dist = await registryDist(init.upstream, name, version)
  if (dist !== undefined && !sameBytes(dist, integrity, shasum)) {
    throw npmError('EINTEGRITY', `${spec.spec} holds ${name}@${version}, but ${registry} has other bytes under that version; publish these under a version of their own`)
  }
  if (origin === 'peers') init.resolver.preload({ name, version, integrity: `${integrity} sha1-${Buffer.from(shasum, 'hex').toString('base64')}` }, { data: bytes, origin })
  if (dist === undefined) {
    const local: LocalManifest = registryVersion(manifest, { integrity, shasum, tarball: registryTarballUrl(registry, name, version), cid })
    init.localVersions.add(local)
  }
  return spec.alias !== undefined && spec.alias !== name ? `${spec.alias}@npm:${name}@${version}` : `${name}@${version}`
}
