/**
 * src/commands/dep-valid-memo.ts: Arborist's dep-valid gives the same answer, and records the
 * same errors on the requesting node, with the memo as without, for every edge of the monorepo
 * and for specs of every other kind (file, directory, git, alias, tag, URL, invalid); the
 * monorepo's ideal tree is the same edge by edge, and so is its lockfile; a dep-valid.js of another shape, or one edge.js already holds, is left alone.
 */
import assert from 'node:assert/strict'
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { memoizeDepValid } from '../src/commands/dep-valid-memo.ts'
import { sharedFixture } from './helpers/shared-fixtures.ts'
import { tempDir } from './helpers/temp-dir.ts'

const require = createRequire(import.meta.url)
const arboristMain = require.resolve('@npmcli/arborist')
// before Arborist loads: its edge.js takes dep-valid's export when it loads
const installed = memoizeDepValid(arboristMain)
installed.restore()

interface Edge { type: string, spec: string, accept?: string, to: TreeNode | null, error: string | null }
interface TreeNode { name: string, version: string, location: string, errors: unknown[], edgesOut: Map<string, Edge> }
interface Tree { inventory: Map<string, TreeNode>, meta: { commit(): unknown } }
const Arborist = require('@npmcli/arborist') as new (options: Record<string, unknown>) => { buildIdealTree(): Promise<Tree> }
const depValid = createRequire(arboristMain)('./dep-valid.js') as (child: unknown, requested: unknown, accept: unknown, requestor: unknown) => boolean

const cleanup: Array<() => Promise<void>> = []
after(async () => { for (const step of cleanup) await step() })

async function monorepo (): Promise<string> {
  const dir = await tempDir('dep-valid-memo', cleanup)
  await cp(sharedFixture('monorepo'), dir, { recursive: true })
  return dir
}

/** Each edge of `tree` as one line, its validity read afresh. */
const describe = (tree: Tree): string[] => [...tree.inventory.values()].flatMap((node) =>
  [...node.edgesOut.values()].map((edge) => `${node.location} ${edge.type} ${edge.spec} -> ${edge.to?.location ?? null} ${edge.error}`))

test('the memo is in place when installed before Arborist loads', () => {
  assert.equal(installed.applied, true, "Arborist's dep-valid.js changed: the memo no longer applies")
})

test('every answer and every recorded error is dep-valid\'s own, the first time and again', async () => {
  const tree = await new Arborist({ path: await monorepo() }).buildIdealTree()
  const nodes = [...tree.inventory.values()]
  const versions = [...new Set(nodes.map((node) => node.version))]
  const someNode = nodes.find((node) => node.location === 'node_modules/semver')!
  // every edge as it is, then each child against specs of every kind, accepted or not
  const cases: Array<[TreeNode, unknown, unknown, TreeNode]> = []
  for (const node of nodes) {
    for (const edge of node.edgesOut.values()) {
      if (edge.to !== null) cases.push([edge.to, edge.spec, edge.accept, node])
    }
  }
  const odd = ['', '*', 'latest', 'x', '1.x || >=2.5.0', '>= 1.0.0 < 2', ' ^7.0.0 ', '7', 'not a range!', '^99.0.0', 'npm:semver@^7', 'npm:other@^7',
    'file:../x', 'file:x.tgz', './packages/socket.io', 'github:npm/cli', 'git+https://github.com/npm/cli.git#semver:^7', 'https://example.test/a.tgz']
  for (const spec of odd) {
    cases.push([someNode, spec, undefined, nodes[0]], [someNode, '^99.0.0', spec, nodes[0]])
  }
  const badName = { ...someNode, name: 'Bad Name!' }
  const noVersion = { ...someNode, version: undefined }
  const resolvedOdd = { ...nodes[0], resolved: 'file:../elsewhere', errors: [] as unknown[] }
  const unparsable = { ...nodes[0], resolved: 'npm:@@@', errors: [] as unknown[] }
  for (const version of versions.slice(0, 200)) cases.push([{ ...someNode, version } as TreeNode, '^7.5.0', '6.x', nodes[0]])
  cases.push([badName as TreeNode, '^7.0.0', undefined, nodes[0]], [noVersion as unknown as TreeNode, '^7.0.0', undefined, nodes[0]],
    [someNode, '^7.0.0', undefined, resolvedOdd as TreeNode], [someNode, '^7.0.0', undefined, unparsable as TreeNode],
    [someNode, '^7.0.0', undefined, undefined as unknown as TreeNode], [someNode, undefined, undefined, nodes[0]])
  assert.ok(cases.length > 2000, 'the monorepo gave its edges')

  const answers = (): string[] => cases.map(([child, requested, accept, requestor]) => {
    const errors = requestor?.errors
    const before = errors?.length ?? 0
    let answer: string
    try {
      answer = String(depValid(child, requested, accept, requestor))
    } catch (err) {
      answer = `threw ${(err as Error).message}`
    }
    const added = errors?.splice(before).map((err) => (err as Error).message).join('|') ?? ''
    return `${answer} ${added}`
  })
  const plain = answers()
  assert.ok(plain.some((line) => line.startsWith('false')) && plain.some((line) => line.includes('|') || /^false \S/.test(line)), 'invalid edges and recorded errors among them')
  const memo = memoizeDepValid(arboristMain)
  try {
    assert.equal(memo.applied, true)
    for (let round = 0; round < 2; round++) assert.deepEqual(answers(), plain)
  } finally {
    memo.restore()
  }
})

test('the monorepo: the same ideal tree, edge by edge, and the same lockfile with the memo as without', async () => {
  const dir = await monorepo()
  const load = async (): Promise<{ edges: string[], lockfile: string }> => {
    const tree = await new Arborist({ path: dir }).buildIdealTree()
    return { edges: describe(tree), lockfile: JSON.stringify(tree.meta.commit()) }
  }
  const without = await load()
  assert.ok(without.edges.length > 2000)
  const memo = memoizeDepValid(arboristMain)
  try {
    const withMemo = await load()
    assert.deepEqual(withMemo.edges, without.edges)
    assert.equal(withMemo.lockfile, without.lockfile)
  } finally {
    memo.restore()
  }
})

test('a dep-valid.js of another shape, or one edge.js has loaded, is left alone', async () => {
  const dir = await tempDir('dep-valid-memo', cleanup)
  await symlink(join(arboristMain, '../../../..'), join(dir, 'node_modules'))
  /** An Arborist lib of its own (resolving this checkout's packages), with dep-valid.js as `source`. */
  const lib = async (name: string, source: string): Promise<string> => {
    const at = join(dir, name)
    await mkdir(at)
    await writeFile(join(at, 'index.js'), 'module.exports = {}\n')
    await writeFile(join(at, 'edge.js'), "module.exports = require('./dep-valid.js')\n")
    await writeFile(join(at, 'dep-valid.js'), source)
    await cp(join(arboristMain, '../from-path.js'), join(at, 'from-path.js'))
    return join(at, 'index.js')
  }
  const real = await readFile(join(arboristMain, '../dep-valid.js'), 'utf8')
  const other = await lib('other', 'module.exports = () => true\n')
  assert.equal(memoizeDepValid(other).applied, false)
  assert.equal(createRequire(other)('./edge.js')(), true)
  const loaded = await lib('loaded', real)
  const edge = createRequire(loaded)('./edge.js') as unknown
  assert.equal(memoizeDepValid(loaded).applied, false)
  assert.equal(createRequire(loaded)('./dep-valid.js'), edge)
  // the same source, edge.js not loaded yet: applied, and edge.js gets the memo
  const fresh = await lib('fresh', real)
  const memo = memoizeDepValid(fresh)
  try {
    assert.equal(memo.applied, true)
    assert.notEqual(createRequire(fresh)('./edge.js'), edge)
  } finally {
    memo.restore()
  }
})
