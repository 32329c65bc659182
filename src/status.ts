/**
 * What a running `serve` reports about itself (`GET /-/ipfs-npm/status`), and its text form for
 * `ipfs-npm status`; the status page (registry/status-page.ts) shows the same in HTML.
 */
import { CLIENT_LABELS } from './registry/clients.ts'
import type { ServedSummary } from './registry/served.ts'
import type { CacheStats } from './cache-stats.ts'

export interface ServeStatus {
  /** ipfs-npm's own version. */
  version: string
  /** The registry URL clients use. */
  registry: string
  /** When serve started (ms since the epoch). */
  startedAt: number
  node: {
    peerId: string
    addresses: string[]
    /** Peer ids of the connected peers. */
    peers: string[]
    /** Blocks and bytes sent to peers over bitswap. */
    bitswap: { blocks: number, bytes: number }
  }
  /** Tarballs served over HTTP to clients, by client kind and origin. */
  http: ServedSummary
  /** Tarballs npm's cache holds: what peers can have from us. */
  cache: CacheStats
}

/** `1.2 MiB`, `340 KiB`, `12 B`. */
export function formatBytes (bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value >= 10 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`
}

const tarballs = (n: number): string => `${n} tarball${n === 1 ? '' : 's'}`

/** The status as the lines `ipfs-npm status` prints. */
export function statusLines (status: ServeStatus): string[] {
  const { node, http, cache } = status
  const lines = [
    `ipfs-npm ${status.version} serve at ${status.registry}, up since ${new Date(status.startedAt).toISOString()}`,
    `peer ${node.peerId}`,
    ...node.addresses.map((address) => `  listening on ${address}`),
    `${node.peers.length} connected peer${node.peers.length === 1 ? '' : 's'}${node.peers.length > 0 ? ':' : ''}`,
    ...node.peers.map((peer) => `  ${peer}`),
    `served over HTTP: ${tarballs(http.tarballs)}, ${formatBytes(http.bytes)}; ${formatBytes(http.saved.bytes)} (${tarballs(http.saved.tarballs)}) not from the registry`,
  ]
  for (const [origin, counts] of Object.entries(http.byOrigin)) {
    if (counts.tarballs > 0) lines.push(`  from ${origin}: ${tarballs(counts.tarballs)}, ${formatBytes(counts.bytes)}`)
  }
  for (const [client, counts] of Object.entries(http.byClient)) {
    if (counts.tarballs > 0) lines.push(`  to ${CLIENT_LABELS[client] ?? client}: ${tarballs(counts.tarballs)}, ${formatBytes(counts.bytes)}`)
  }
  lines.push(
    `served to peers over bitswap: ${node.bitswap.blocks} block${node.bitswap.blocks === 1 ? '' : 's'}, ${formatBytes(node.bitswap.bytes)}`,
    `cache: ${tarballs(cache.tarballs)}, ${formatBytes(cache.bytes)}`,
  )
  return lines
}
