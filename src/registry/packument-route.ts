/**
 * Where the shim gets a packument: the registry, the source of truth while it answers; npm's own
 * HTTP cache, trusted indexes and peers (src/metadata/packument-source.ts) when it is unreachable,
 * fails or is slow — or the indexes first, with `--prefer-index` or a scope's own index. A slow
 * registry keeps its chance while the others are asked; one that failed is left alone for a while,
 * so an install with no route to it costs one failure, not one per packument.
 */
import { setTimeout as delay } from 'node:timers/promises'
import type { FoundPackument, PackumentSource } from '../metadata/packument-source.ts'
import { bodyBytes } from './packument.ts'
import type { UpstreamResponse } from './upstream.ts'

export interface PackumentRouteInit {
  source: PackumentSource
  /** Packuments from the trusted indexes alone: a registry with no server (`--index-only`). */
  indexOnly: boolean
  /** How long a registry that has neither answered nor failed is waited for before peers are asked, in ms. */
  patience: number
  /** How long a registry found unreachable is left alone before it is asked again, in ms. */
  retryAfter: number
  log(msg: string): void
}

export interface PackumentRequest {
  name: string
  /** The registry that serves `name` (trailing slash). */
  registry: string
  /** The client asked for the full document (`application/json`), not the abbreviated one. */
  wantFull: boolean
  /** The registry's answer (npm's retries, auth and HTTP cache included). */
  fromRegistry(): Promise<UpstreamResponse>
  /** What npm's HTTP cache holds, without asking the registry (throws ENOTCACHED when nothing). */
  fromCache(): Promise<UpstreamResponse>
}

type Outcome = { answer: UpstreamResponse } | { error: Error }

const json = (status: number, body: unknown): UpstreamResponse => ({
  status,
  headers: { 'content-type': ['application/json'] },
  body: Buffer.from(JSON.stringify(body)),
})

const found = (packument: FoundPackument): UpstreamResponse => ({ status: 200, headers: { 'content-type': ['application/json'] }, body: Buffer.from(packument.text) })

const after = (ms: number): Promise<undefined> => delay(ms, undefined, { ref: false })

export function createPackumentRoute (init: PackumentRouteInit): (req: PackumentRequest) => Promise<UpstreamResponse> {
  const { source } = init
  /** Per registry that failed: why, and until when it is left alone. */
  const down = new Map<string, { why: string, until: number }>()
  const whyDown = (registry: string): string | undefined => {
    const known = down.get(registry)
    return known !== undefined && known.until > Date.now() ? known.why : undefined
  }
  /** A registry that failed, or did not answer within our patience, is left alone for a while. */
  const markDown = (registry: string, outcome: Outcome | undefined): void => {
    if (outcome !== undefined && 'answer' in outcome) return
    const why = outcome === undefined ? `no answer within ${init.patience} ms` : (outcome.error as { code?: string }).code ?? outcome.error.message
    down.set(registry, { why, until: Date.now() + init.retryAfter })
  }

  const fromRegistry = (req: PackumentRequest): Promise<Outcome> => req.fromRegistry().then((answer) => ({ answer }), (error: Error) => ({ error }))
  /** A registry answer the client should have: anything but a server error. */
  const usable = (outcome: Outcome | undefined): outcome is { answer: UpstreamResponse } => outcome !== undefined && 'answer' in outcome && outcome.answer.status < 500

  /** A registry answer, counted; a packument's text is shown to the source (it learns signing keys from it). */
  async function fromTheRegistry (req: PackumentRequest, answer: UpstreamResponse): Promise<UpstreamResponse> {
    if (answer.status !== 200) return answer
    source.count('registry')
    const body = await bodyBytes(answer)
    source.registryServed(req.name, req.registry, body.toString('utf8'))
    return { ...answer, body }
  }

  return async (req) => {
    if (init.indexOnly) {
      const indexed = await source.fromIndexes(req.name).catch((err: Error) => err)
      if (indexed instanceof Error) return json(502, { error: indexed.message, code: (indexed as { code?: string }).code })
      if (indexed === undefined) return json(404, { error: `${req.name} is in none of the trusted indexes (--index-only)` })
      source.count(indexed)
      return found(indexed)
    }
    if (source.prefersIndex(req.name)) {
      const indexed = await source.fromIndexes(req.name)
      if (indexed !== undefined) {
        source.count(indexed)
        return found(indexed)
      }
    }
    const unreachable = whyDown(req.registry)
    const registry = unreachable === undefined ? fromRegistry(req) : undefined
    if (registry !== undefined) {
      const first = await Promise.race([registry, after(init.patience)])
      if (usable(first)) return fromTheRegistry(req, first.answer)
      markDown(req.registry, first)
    }
    // failed or slow: npm's own cache, the indexes, then peers — and the registry, should it answer
    // after all. One known to be unreachable is asked only when nobody else has the packument.
    init.log(`metadata: ${req.name}: the registry is unreachable (${whyDown(req.registry)}); trying npm's cache, indexes, peers`)
    const cached = await req.fromCache().catch(() => undefined)
    if (cached?.status === 200) {
      source.count('cache')
      return cached
    }
    const elsewhere = (async () => (await source.fromIndexes(req.name)) ?? (await source.fromPeers(req.name, req.registry, req.wantFull)))()
    const winner = await new Promise<{ answer: UpstreamResponse } | { packument: FoundPackument } | undefined>((resolve) => {
      let pending = registry === undefined ? 1 : 2
      const miss = (): void => {
        if (--pending === 0) resolve(undefined)
      }
      void registry?.then((outcome) => usable(outcome) ? resolve(outcome) : miss())
      elsewhere.then((packument) => packument === undefined ? miss() : resolve({ packument }), miss)
    })
    if (winner !== undefined && 'packument' in winner) {
      init.log(`metadata: ${req.name} from ${winner.packument.origin === 'index' ? 'index' : 'peer'} ${winner.packument.from}`)
      source.count(winner.packument)
      return found(winner.packument)
    }
    if (winner !== undefined) {
      down.delete(req.registry)
      return fromTheRegistry(req, winner.answer)
    }
    const refused = await elsewhere.then(() => undefined, (err: Error) => err)
    if (refused !== undefined) return json(502, { error: refused.message, code: (refused as { code?: string }).code })
    const outcome: Outcome = await (registry ?? fromRegistry(req))
    if ('answer' in outcome) {
      // a server error included: the registry's own answer is the client's to see, as npm would
      if (outcome.answer.status < 500) down.delete(req.registry)
      return fromTheRegistry(req, outcome.answer)
    }
    markDown(req.registry, outcome)
    return json(404, { error: `the registry is unreachable (${whyDown(req.registry)}) and no peer or index had ${req.name}` })
  }
}
