/**
 * src/commands/hosted-git-memo.ts: hosted-git-info answers every URL as it does without the
 * memo (git hosts and non-git specs alike, the first time and again), a host added later
 * changes the answers as it does without it, and the monorepo's ideal tree and lockfile are
 * the same with it as without; a hosted-git-info of another shape is left alone.
 */
import assert from 'node:assert/strict'
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { memoizeHostedGitUrls } from '../src/commands/hosted-git-memo.ts'
import { sharedFixture } from './helpers/shared-fixtures.ts'
import { tempDir } from './helpers/temp-dir.ts'

const require = createRequire(import.meta.url)
const arboristMain = require.resolve('@npmcli/arborist')
const npaMain = createRequire(arboristMain).resolve('npm-package-arg')
const GitHost = createRequire(npaMain)('hosted-git-info') as { fromUrl(url: unknown, opts?: unknown): unknown, addHost(name: string, host: unknown): void }
const cleanup: Array<() => Promise<void>> = []
after(async () => { for (const step of cleanup) await step() })

/** A GitHost (or undefined) as plain data, to compare answers made at different times. */
const shown = (host: unknown): string => JSON.stringify(host) ?? 'undefined'

/** Specs and URLs of every kind npm-package-arg hands hosted-git-info, the monorepo's included. */
async function corpus (): Promise<unknown[]> {
  const lock = JSON.parse(await readFile(join(sharedFixture('monorepo'), 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string, dependencies?: Record<string, string> }> }
  const fromLock = Object.values(lock.packages).flatMap((entry) => [entry.resolved, ...Object.values(entry.dependencies ?? {})]).filter((s) => typeof s === 'string')
  return [...new Set([...fromLock, 'github:npm/cli', 'npm/cli#v1.0.0', 'git+ssh://git@github.com/npm/cli.git#semver:^1', 'gitlab:a/b',
    'bitbucket:a/b', 'https://github.com/npm/cli/archive/v1.tar.gz', 'git://github.com/npm/cli', 'examplehost:a/b', '^1.0.0', 'latest', '',
    'file:../x', 'npm:foo@1', 'https://registry.example/foo/-/foo-1.0.0.tgz']), undefined, 42]
}

test('every answer is the one hosted-git-info gives without the memo, the first time and again', async () => {
  const specs = await corpus()
  assert.ok(specs.length > 500, 'the monorepo lockfile gave its specs')
  const optionSets = [undefined, { noGitPlus: true, noCommittish: true }, { noCommittish: false }]
  const plain = specs.flatMap((spec) => optionSets.map((opts) => shown(GitHost.fromUrl(spec, opts))))
  assert.ok(plain.filter((answer) => answer !== 'undefined').length >= 7, 'git hosts among them')
  const memo = memoizeHostedGitUrls(npaMain)
  try {
    assert.equal(memo.applied, true, "hosted-git-info's shape changed: the memo no longer applies")
    for (let round = 0; round < 2; round++) {
      assert.deepEqual(specs.flatMap((spec) => optionSets.map((opts) => shown(GitHost.fromUrl(spec, opts)))), plain)
    }
    // a host added later: its URLs are answered as hosted-git-info then answers them
    assert.equal(GitHost.fromUrl('examplehost:a/b'), undefined)
    const hosts = createRequire(npaMain)('hosted-git-info/lib/hosts.js') as Record<string, object>
    GitHost.addHost('examplehost', { ...hosts.github, domain: 'git.example.test' })
    assert.match(shown(GitHost.fromUrl('examplehost:a/b')), /"domain":"git\.example\.test"/)
  } finally {
    memo.restore()
  }
  assert.match(shown(GitHost.fromUrl('examplehost:a/b')), /"domain":"git\.example\.test"/)
})

test('the monorepo: the same ideal tree, edge by edge, and the same lockfile with the memo as without', async () => {
  const dir = await tempDir('hosted-git-memo', cleanup)
  await cp(sharedFixture('monorepo'), dir, { recursive: true })
  const Arborist = require('@npmcli/arborist') as new (options: Record<string, unknown>) => { buildIdealTree(): Promise<{ inventory: Map<string, { location: string, edgesOut: Map<string, { spec: string, to: { location: string } | null, error: string | null }> }>, meta: { commit(): unknown } }> }
  const load = async (): Promise<{ edges: string[], lockfile: string }> => {
    const tree = await new Arborist({ path: dir }).buildIdealTree()
    const edges = [...tree.inventory.values()].flatMap((node) => [...node.edgesOut.values()].map((edge) => `${node.location} ${edge.spec} -> ${edge.to?.location ?? null} ${edge.error}`))
    return { edges, lockfile: JSON.stringify(tree.meta.commit()) }
  }
  const without = await load()
  const memo = memoizeHostedGitUrls(npaMain)
  try {
    assert.equal(memo.applied, true)
    const withMemo = await load()
    assert.ok(without.edges.length > 2000)
    assert.deepEqual(withMemo.edges, without.edges)
    assert.equal(withMemo.lockfile, without.lockfile)
  } finally {
    memo.restore()
  }
})

test('a hosted-git-info whose fromUrl is another is left alone', async () => {
  const dir = await tempDir('hosted-git-memo', cleanup)
  await mkdir(join(dir, 'node_modules/hosted-git-info'), { recursive: true })
  await writeFile(join(dir, 'node_modules/hosted-git-info/index.js'), 'module.exports = class GitHost {\n  static fromUrl (giturl) { return giturl }\n  static addHost () {}\n}\n')
  const fake = join(dir, 'node_modules/npm-package-arg/lib/npa.js')
  const before = (createRequire(fake)('hosted-git-info') as { fromUrl: unknown }).fromUrl
  assert.equal(memoizeHostedGitUrls(fake).applied, false)
  assert.equal((createRequire(fake)('hosted-git-info') as { fromUrl: unknown }).fromUrl, before)
})
