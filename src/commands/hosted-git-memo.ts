/**
 * npm-package-arg asks hosted-git-info whether every spec it parses is a hosted git URL
 * (`HostedGit.fromUrl`), and Arborist parses a spec for every edge it checks and every
 * `resolved` URL it reads: a few thousand calls for a 1,270-package tree, about a twentieth of
 * the main thread of `ci` over a kept node_modules. hosted-git-info keeps answers in an LRU
 * cache, but the answer for a spec that is no git URL (nearly all of them) is `undefined`,
 * which lru-cache does not keep: each of those is parsed again on every call. Here every
 * answer, `undefined` included, is kept (by the options, then the URL), until a host is added
 * (`addHost`, which can change answers).
 *
 * Applied only to a hosted-git-info whose `fromUrl` is the source this was written against;
 * any other runs as it is.
 */
import { createRequire } from 'node:module'
import { squash } from './source-shape.ts'

/** `GitHost.fromUrl` of hosted-git-info 9, whitespace aside. */
const FROM_URL_SOURCE = `fromUrl (giturl, opts) {
    if (typeof giturl !== 'string') {
      return
    }

    const key = giturl + JSON.stringify(opts || {})

    if (!cache.has(key)) {
      const hostArgs = fromUrl(giturl, opts, {
        gitHosts: GitHost.#gitHosts,
        protocols: GitHost.#protocols,
      })
      cache.set(key, hostArgs ? new GitHost(...hostArgs) : undefined)
    }

    return cache.get(key)
  }`

interface GitHostClass {
  fromUrl(giturl: unknown, opts?: unknown): unknown
  addHost(name: string, host: unknown): unknown
}

export interface HostedGitMemo {
  /** Whether hosted-git-info was the expected one (if not, nothing was changed). */
  applied: boolean
  /** Puts hosted-git-info's own methods back and forgets the answers. */
  restore(): void
}

/**
 * Makes `fromUrl` of the hosted-git-info that the npm-package-arg at `npaMain` (its resolved
 * main file) uses keep every answer.
 *
 * @example
 * const memo = memoizeHostedGitUrls(createRequire(arboristMain).resolve('npm-package-arg'))
 * try { await arb.reify() } finally { memo.restore() }
 */
export function memoizeHostedGitUrls (npaMain: string): HostedGitMemo {
  const none = { applied: false, restore () {} }
  let GitHost: GitHostClass
  try {
    GitHost = createRequire(npaMain)('hosted-git-info') as GitHostClass
  } catch {
    return none
  }
  const { fromUrl, addHost } = GitHost
  if (typeof fromUrl !== 'function' || typeof addHost !== 'function' || squash(fromUrl.toString()) !== squash(FROM_URL_SOURCE)) return none
  // by hosted-git-info's key for the options, then the URL itself: no key string is built per
  // call (a spec string is hashed once, where giturl + options was hashed afresh each time)
  const answers = new Map<string, Map<string, unknown>>()
  GitHost.fromUrl = function (giturl, opts) {
    if (typeof giturl !== 'string') return fromUrl.call(this, giturl, opts)
    const optsKey = JSON.stringify(opts || {})
    let forOpts = answers.get(optsKey)
    if (forOpts === undefined) answers.set(optsKey, forOpts = new Map())
    const known = forOpts.get(giturl)
    if (known !== undefined || forOpts.has(giturl)) return known
    const answer = fromUrl.call(this, giturl, opts)
    forOpts.set(giturl, answer)
    return answer
  }
  GitHost.addHost = function (name, host) {
    answers.clear()
    return addHost.call(this, name, host)
  }
  return {
    applied: true,
    restore () {
      GitHost.fromUrl = fromUrl
      GitHost.addHost = addHost
      answers.clear()
    },
  }
}
