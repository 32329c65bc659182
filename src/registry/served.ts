/**
 * What a registry shim served over HTTP: tarballs and bytes, per client kind and per origin
 * (npm's cache, IPFS peers, the registry), and minute by minute for the last hour. "Saved" is
 * what did not come from the registry. Counted when the last byte went out.
 */
import { CLIENT_KINDS, type ClientKind } from './clients.ts'
import type { TarballOrigin } from '../types.ts'

export interface Counts { tarballs: number, bytes: number }

/** One minute of traffic: its start (ms since the epoch) and what went out in it. */
export interface Minute extends Counts { at: number, saved: Counts }

export interface ServedSummary extends Counts {
  byClient: Record<ClientKind, Counts>
  byOrigin: Record<TarballOrigin, Counts>
  /** Bytes and tarballs that did not come from the registry. */
  saved: Counts
  /** Oldest first; minutes with no traffic are left out. */
  history: Minute[]
}

export interface ServedTally {
  record(served: { client: ClientKind, origin: TarballOrigin, bytes: number }): void
  summary(): ServedSummary
}

const HISTORY_MINUTES = 60
const zero = (): Counts => ({ tarballs: 0, bytes: 0 })
const add = (counts: Counts, bytes: number): void => {
  counts.tarballs++
  counts.bytes += bytes
}

export function createServedTally (now: () => number = Date.now): ServedTally {
  const total = zero()
  const saved = zero()
  const byClient = Object.fromEntries(CLIENT_KINDS.map((kind) => [kind, zero()])) as Record<ClientKind, Counts>
  const byOrigin: Record<TarballOrigin, Counts> = { cache: zero(), peers: zero(), registry: zero() }
  const history: Minute[] = []

  return {
    record ({ client, origin, bytes }) {
      add(total, bytes)
      add(byClient[client], bytes)
      add(byOrigin[origin], bytes)
      if (origin !== 'registry') add(saved, bytes)
      const at = Math.floor(now() / 60_000) * 60_000
      let minute = history.at(-1)
      if (minute?.at !== at) {
        minute = { at, ...zero(), saved: zero() }
        history.push(minute)
        while (history.length > 0 && history[0].at <= at - HISTORY_MINUTES * 60_000) history.shift()
      }
      add(minute, bytes)
      if (origin !== 'registry') add(minute.saved, bytes)
    },
    summary: () => structuredClone({ ...total, byClient, byOrigin, saved, history }),
  }
}
