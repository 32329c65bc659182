/**
 * Which rule makes reify ask the shim for every missing tarball, and only when the shim then
 * fetches each from the URL npm itself would have used.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { replaceRegistryHost, shimRoutingRule, type ShimRoutingInit } from '../src/registry/shim-routing.ts'

const shimUrl = 'http://127.0.0.1:4873/'
const mirror = 'https://mirror.example/npm/'
const scoped = 'https://scoped.example/'
const init: ShimRoutingInit = {
  rule: 'registry.npmjs.org',
  registry: mirror,
  shimUrl,
  registryFor: (name) => name.startsWith('@s/') ? scoped : mirror,
}
const npmjs = (path: string): string => `https://registry.npmjs.org/${path}`

test('Arborist\'s rewrite: host rules, URL rules with a path prefix, always and never', () => {
  assert.equal(replaceRegistryHost(npmjs('a/-/a-1.0.0.tgz'), 'registry.npmjs.org', mirror), 'https://mirror.example/npm/a/-/a-1.0.0.tgz')
  assert.equal(replaceRegistryHost('https://mirror.example/npm/a/-/a-1.0.0.tgz', mirror, shimUrl), `${shimUrl}a/-/a-1.0.0.tgz`)
  assert.equal(replaceRegistryHost('https://mirror.example/other/a/-/a-1.0.0.tgz', mirror, shimUrl), 'https://mirror.example/other/a/-/a-1.0.0.tgz')
  assert.equal(replaceRegistryHost('https://elsewhere.example/a/-/a-1.0.0.tgz', 'always', shimUrl), `${shimUrl}a/-/a-1.0.0.tgz`)
  assert.equal(replaceRegistryHost(npmjs('a/-/a-1.0.0.tgz'), 'never', shimUrl), npmjs('a/-/a-1.0.0.tgz'))
  assert.equal(replaceRegistryHost('not a url', 'always', shimUrl), 'not a url')
})

test('lockfile URLs on registry.npmjs.org: npm\'s own rule already sends them to the shim', () => {
  assert.equal(shimRoutingRule([{ name: 'a', resolved: npmjs('a/-/a-1.0.0.tgz') }, { name: '@s/b', resolved: npmjs('@s/b/-/b-2.0.0.tgz') }], {
    ...init,
    registryFor: () => mirror,
  }), 'registry.npmjs.org')
})

test('lockfile URLs on the configured registry (a mirror with a path): a rule naming it', () => {
  assert.equal(shimRoutingRule([{ name: 'a', resolved: `${mirror}a/-/a-1.0.0.tgz` }, { name: 'b', resolved: `${mirror}b/-/b-1.0.0.tgz` }], init), mirror)
  // a scoped package on its own registry, alone, works the same way
  assert.equal(shimRoutingRule([{ name: '@s/c', resolved: `${scoped}@s/c/-/c-1.0.0.tgz` }], init), scoped)
})

test('URLs the shim itself was given (a lockfile without resolved) need no rule of their own', () => {
  assert.equal(shimRoutingRule([{ name: '@s/c', resolved: `${shimUrl}@s/c/-/c-1.0.0.tgz` }, { name: 'a', resolved: npmjs('a/-/a-1.0.0.tgz') }], init), 'registry.npmjs.org')
})

test('no single rule: reify would fetch some tarball past the shim, or the shim from another URL', () => {
  const cases: Array<[string, Array<{ name: string, resolved: string | null }>, Partial<ShimRoutingInit>?]> = [
    ['two hosts', [{ name: 'a', resolved: npmjs('a/-/a-1.0.0.tgz') }, { name: 'b', resolved: `${mirror}b/-/b-1.0.0.tgz` }]],
    ['main and scoped registries', [{ name: '@s/c', resolved: `${scoped}@s/c/-/c-1.0.0.tgz` }, { name: 'b', resolved: `${mirror}b/-/b-1.0.0.tgz` }]],
    ['a remote tarball', [{ name: 'x', resolved: 'https://example.com/downloads/x.tgz' }]],
    ['no resolved', [{ name: 'a', resolved: null }]],
    ['a scoped package on the main host: npm fetches it there, the shim from its scope\'s registry', [{ name: '@s/c', resolved: `${mirror}@s/c/-/c-1.0.0.tgz` }]],
    ['never: npm fetches from registry.npmjs.org itself, the shim would ask the mirror', [{ name: 'a', resolved: npmjs('a/-/a-1.0.0.tgz') }], { rule: 'never' }],
  ]
  for (const [what, tarballs, overrides] of cases) assert.equal(shimRoutingRule(tarballs, { ...init, ...overrides }), undefined, what)
})
