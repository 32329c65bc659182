/**
 * Where the shim gets a packument: the registry, the source of truth while it answers; trusted
 * indexes and peers (src/metadata/packument-source.ts) when it fails or is slow, and npm's own
 * HTTP cache before them when it failed — or the indexes first, with `--prefer-index` or a scope's
 * own index. A slow registry keeps its chance while the others are asked, and is not waited for
 * again for a while; one that failed is left alone for a while, so an install with no route to it
 * costs one failure, not one per packument. Nobody else having a packument, the registry has the
 * last word.
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
  /**
   * Per registry in trouble, for `retryAfter`: `failed` (an error: not asked again until nobody
   * else has the packument) or slow (no answer within our patience: asked, but not waited for).
   */
  const trouble = new Map<string, { why: string, failed: boolean, until: number }>()
  const troubleOf = (registry: string): { why: string, failed: boolean } | undefined => {
    const known = trouble.get(registry)
    return known !== undefined && known.until > Date.now() ? known : undefined
  }
  const note = (registry: string, outcome: Outcome | undefined): void => {
    if (outcome !== undefined && 'answer' in outcome) return
    const why = outcome === undefined ? `no answer within ${init.patience} ms` : (outcome.error as { code?: string }).code ?? outcome.error.message
    trouble.set(registry, { why, failed: outcome !== undefined, until: Date.now() + init.retryAfter })
  }

  const fromRegistry = (req: PackumentRequest): Promise<Outcome> => req.fromRegistry().then((answer) => ({ answer }), (error: Error) => ({ error }))
  /** A registry answer the client should have: anything but a server error. */
  const usable = (outcome: Outcome | undefined): outcome is { answer: UpstreamResponse } => outcome !== undefined && 'answer' in outcome && outcome.answer.status < 500

  /** A registry answer, counted; a packument's text is shown to the source (it learns signing keys from it). */
  async function fromTheRegistry (req: PackumentRequest, answer: UpstreamResponse): Promise<UpstreamResponse> {
    if (answer.status < 500) trouble.delete(req.registry)
    if (answer.status !== 200) return answer
    source.count('registry')
    const body = await bodyBytes(answer)
    source.registryServed(req.name, req.registry, body.toString('utf8'))
    return { ...answer, body }
  }

  /** The first of: a usable registry answer, a packument from elsewhere; undefined when neither came. */
  function firstOf (registry: Promise<Outcome> | undefined, elsewhere: Promise<FoundPackument | undefined>): Promise<{ answer: UpstreamResponse } | { packument: FoundPackument } | undefined> {
    return new Promise((resolve) => {
      let pending = registry === undefined ? 1 : 2
      const miss = (): void => {
        if (--pending === 0) resolve(undefined)
      }
      void registry?.then((outcome) => usable(outcome) ? resolve(outcome) : miss())
      elsewhere.then((packument) => packument === undefined ? miss() : resolve({ packument }), miss)
    })
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
    let state = troubleOf(req.registry)
    const registry = state?.failed === true ? undefined : fromRegistry(req)
    if (registry !== undefined && state === undefined) {
      const first = await Promise.race([registry, after(init.patience)])
      if (usable(first)) return fromTheRegistry(req, first.answer)
      note(req.registry, first)
      state = troubleOf(req.registry)
    }
    init.log(`metadata: ${req.name}: the registry ${state?.failed === true ? 'is unreachable' : 'is slow'} (${state?.why}); asking ${state?.failed === true ? 'npm\'s cache, ' : ''}indexes and peers`)
    // npm's own cache stands in for a registry that failed; a slow one may still answer fresher
    if (state?.failed === true) {
      const cached = await req.fromCache().catch(() => undefined)
      if (cached?.status === 200) {
        source.count('cache')
        return cached
      }
    }
    const elsewhere = (async () => (await source.fromIndexes(req.name)) ?? (await source.fromPeers(req.name, req.registry, req.wantFull)))()
    const winner = await firstOf(registry, elsewhere)
    if (winner !== undefined && 'packument' in winner) {
      init.log(`metadata: ${req.name} from ${winner.packument.origin === 'index' ? 'index' : 'peer'} ${winner.packument.from}`)
      source.count(winner.packument)
      return found(winner.packument)
    }
    if (winner !== undefined) return fromTheRegistry(req, winner.answer)
    const refused = await elsewhere.then(() => undefined, (err: Error) => err)
    if (refused !== undefined) return json(502, { error: refused.message, code: (refused as { code?: string }).code })
    // nobody else has it: the registry has the last word, even one that failed a moment ago
    const outcome: Outcome = await (registry ?? fromRegistry(req))
    // a server error included: the registry's own answer is the client's to see, as npm would
    if ('answer' in outcome) return fromTheRegistry(req, outcome.answer)
    note(req.registry, outcome)
    return json(404, { error: `the registry is unreachable (${troubleOf(req.registry)?.why}) and no peer or index had ${req.name}` })
  }
}
