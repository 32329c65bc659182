/**
 * The pipeline's interfaces (DESIGN.md). Each is implemented in a module of its own and passed
 * in, never imported as a global, so a test can assemble the pipeline from real parts:
 *
 *   cli → config → { shim ← resolver ← (cache, peers, upstream) } → plan → fetch phase → reify → report
 */
import type { IpfsNode } from './ipfs/index.ts'

/** One tarball the plan needs, as the lockfile or the packument describes it. */
export interface TarballRef {
  /** Package name, e.g. `@scope/pkg`. */
  name: string
  version: string
  /** SRI string; may hold several algorithms (`sha1-… sha512-…`). */
  integrity: string
  /** The upstream tarball URL, when known (a lockfile may omit it). */
  resolved?: string
}

/** Where a tarball's bytes came from, as the report counts them. */
export type TarballOrigin = 'cache' | 'peers' | 'registry'

export type OriginCounts = Record<TarballOrigin, number>

/** A tarball's bytes, verified against its integrity, and their origin. */
export interface FetchedTarball {
  data: Uint8Array
  origin: TarballOrigin
}

/** A content file of npm's cache and the single-hash SRI (`sha512-…`) its bytes must match. */
export interface CachedFile {
  path: string
  sri: string
}

/** npm's content cache (cacache under `<cache>/_cacache`) as tarball storage. */
export interface TarballCache {
  /** Whether content matching any algorithm of `integrity` is stored. */
  has(integrity: string): Promise<boolean>
  /** The stored bytes (verified by cacache on read), or undefined when absent. */
  get(integrity: string): Promise<Uint8Array | undefined>
  /**
   * Where the bytes are stored, for a reader that verifies them itself (an extraction worker),
   * or undefined when absent: the content file and the one hash that names it.
   */
  file(integrity: string): Promise<CachedFile | undefined>
  /**
   * Stores verified bytes so pacote finds them by digest, under every algorithm of the
   * integrity, with the URL they stand for (`ref.resolved`, else the registry's URL for the
   * package): what decides whether peers outside a swarm may have them (src/sharing.ts). Throws an `EINTEGRITY` error, storing
   * nothing, when the bytes do not match. Bytes this process already checked against the
   * integrity (`recordVerified` in src/integrity.ts) are not hashed again.
   */
  put(ref: TarballRef, data: Uint8Array): Promise<void>
}

/** Tarballs from IPFS peers (src/ipfs). */
export interface PeerFetcher {
  /**
   * The bytes of `ref`, verified against its integrity (and recorded as such: `recordVerified`),
   * or undefined when no peer had them within the bounded wait. A slow, silent, lying or
   * vanished peer is never an exception here.
   */
  fetch(ref: TarballRef): Promise<Uint8Array | undefined>
  /** A root CID for a large tarball, announced by a packument's `dist.cid`; verified before use. */
  hint?(integrity: string, cid: string): void
}

/**
 * The IPFS side, started on first use: `get()` and `node()` start it (once), nothing else does.
 * `started` says whether anything did (for "no node when nothing is missing").
 */
export interface LazyPeers {
  /** The fetcher, starting the node; undefined when there can be none (`--offline`). */
  get(): Promise<PeerFetcher | undefined>
  /** The node itself, starting it: for what needs the node, not tarballs (serve, publish, pin, CIDs, packuments). */
  node(): Promise<IpfsNode | undefined>
  /** A `dist.cid` root for a large tarball; kept until the node starts, never starting it. */
  hint(integrity: string, cid: string): void
  /** The cache gained a tarball (`resolved`: the URL it stands for): a running node offers it to peers, if public; none is started for it. */
  added(ref: TarballRef): void
  readonly started: boolean
  stop(): Promise<void>
}

/** The upstream registries, reached as npm is configured to reach them (auth, proxies, cache). */
export interface Upstream {
  /** Tarball bytes from the registry; throws npm-style errors (`E404`, `ECONNREFUSED`…). Not verified. */
  tarball(ref: TarballRef): Promise<Uint8Array>
  /** The registry URL (with trailing slash) that serves `name`, honouring `@scope:registry`. */
  registryFor(name: string): string
}

/** cache → peers → registry, verified, written back to the cache. Shared by the fetch phase and the shim. */
export interface TarballResolver {
  resolve(ref: TarballRef): Promise<FetchedTarball>
  /**
   * Bytes already fetched and verified elsewhere (a tarball installed by CID): the next resolve
   * of their integrity stores and counts them with their origin instead of fetching again.
   */
  preload(ref: TarballRef, fetched: FetchedTarball): void
  /** Which of `refs` the cache lacks; starts the IPFS node when any is (they will be fetched). */
  missing(refs: readonly TarballRef[]): Promise<TarballRef[]>
  /** How many distinct tarballs each origin supplied so far. */
  readonly counts: OriginCounts
}
