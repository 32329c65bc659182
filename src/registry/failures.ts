/**
 * How failures cross the shim: the HTTP status a failed route answers with, and the error a
 * client's failure is reported as — the upstream failure behind it, or the same error naming the
 * upstream registry instead of the loopback address, so a user never sees `127.0.0.1:PORT`.
 */
import type { HttpError } from '../errors.ts'
import { parseRoute } from './routes.ts'

/** The status the shim answers a failed request with. */
export function statusFor (err: HttpError): number {
  if (typeof err.statusCode === 'number' && err.statusCode >= 400) return err.statusCode
  if (err.code === 'E404') return 404
  if (err.code === 'ENOTCACHED') return 504
  return 502
}

export interface FailureExplainer {
  /** Remembers the last failure a route met upstream. */
  record(err: Error): void
  /** The error to show for `err`, a failure a client met through the shim at `shimUrl`. */
  explain(err: unknown): unknown
}

/**
 * @example
 * const failures = createFailureExplainer({ shimUrl, registry, registryFor })
 * reporter.error(failures.explain(err))
 */
export function createFailureExplainer (init: { shimUrl: string, registry: string, registryFor(name: string): string }): FailureExplainer {
  const { shimUrl } = init
  let last: Error | undefined
  /** The upstream URL a shim URL stands for. */
  const upstreamUrl = (url: string): string => {
    const path = url.slice(shimUrl.length)
    const route = parseRoute(`/${path.split('?')[0]}`)
    return `${'name' in route ? init.registryFor(route.name) : init.registry}${path}`
  }
  return {
    record (err) {
      last = err
    },
    explain (err) {
      if (!(err instanceof Error)) return err
      const where = `${err.message} ${(err as { uri?: string }).uri ?? ''}`
      if (!where.includes(shimUrl)) return err
      if (last !== undefined) return last
      err.message = err.message.replace(new RegExp(`${shimUrl.replace(/[.[\]]/g, '\\$&')}\\S*`, 'g'), upstreamUrl)
      return err
    },
  }
}
