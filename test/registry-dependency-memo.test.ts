/**
 * src/commands/registry-dependency-memo.ts: `isRegistryDependency` answers for every node of the
 * monorepo, and for edges of every kind of spec (a rejected one throws as it does without), as
 * Arborist's own getter does, the first time and again; the lockfile and the hidden lockfile
 * Arborist writes are the same with it as without; a getter of another shape is left alone.
 */
import assert from 'node:assert/strict'
import { cp, mkdir, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { memoizeRegistryDependency } from '../src/commands/registry-dependency-memo.ts'
import { sharedFixture } from './helpers/shared-fixtures.ts'
import { tempDir } from './helpers/temp-dir.ts'

const require = createRequire(import.meta.url)
const arboristMain = require.resolve('@npmcli/arborist')

interface TreeNode { location: string, isRegistryDependency: boolean }
interface Tree { inventory: Map<string, TreeNode>, meta: { commit(): unknown, hiddenLockfile: boolean } }
const Arborist = require('@npmcli/arborist') as new (options: Record<string, unknown>) => { buildIdealTree(): Promise<Tree> }
const Node = createRequire(arboristMain)('./node.js') as { prototype: object }

const cleanup: Array<() => Promise<void>> = []
after(async () => { for (const step of cleanup) await step() })

/** The getter, read on a stand-in with these specs coming in: its answer, or what it threw. */
const askWith = (specs: unknown[]): string => {
  try {
    return String(Reflect.get(Node.prototype, 'isRegistryDependency', { edgesIn: new Set(specs.map((spec) => ({ spec }))) }))
  } catch (err) {
    return `threw ${(err as { code?: string }).code} ${(err as Error).message}`
  }
}

test('the monorepo: every node answers as without the memo, the first time and again, and both lockfiles are the same', async () => {
  const dir = await tempDir('registry-dependency-memo', cleanup)
  await cp(sharedFixture('monorepo'), dir, { recursive: true })
  const tree = await new Arborist({ path: dir }).buildIdealTree()
  const answers = (): string[] => [...tree.inventory.values()].map((node) => `${node.location} ${node.isRegistryDependency}`)
  const lockfiles = (): string[] => {
    const hidden = tree.meta.hiddenLockfile
    try {
      const plain = JSON.stringify(tree.meta.commit())
      tree.meta.hiddenLockfile = true
      return [plain, JSON.stringify(tree.meta.commit())]
    } finally {
      tree.meta.hiddenLockfile = hidden
    }
  }
  const odd = [['^1.0.0'], ['latest', ''], ['file:../x'], ['^1.0.0', 'github:a/b'], ['@'], ['^1.0.0', 'foo@bar baz'], ['npm:'], ['Bad Name@1'], ['npm:semver@^7'], []]
  const plain = { answers: answers(), lockfiles: lockfiles(), odd: odd.map(askWith) }
  assert.ok(plain.answers.some((line) => line.endsWith('true')) && plain.answers.some((line) => line.endsWith('false')))
  assert.ok(plain.odd.some((line) => line.startsWith('threw')))
  const memo = memoizeRegistryDependency(arboristMain)
  try {
    assert.equal(memo.applied, true, "Arborist's isRegistryDependency changed: the memo no longer applies")
    for (let round = 0; round < 2; round++) {
      assert.deepEqual(answers(), plain.answers)
      assert.deepEqual(odd.map(askWith), plain.odd)
    }
    assert.deepEqual(lockfiles(), plain.lockfiles)
  } finally {
    memo.restore()
  }
  assert.deepEqual(odd.map(askWith), plain.odd)
})

test('a getter of another shape is left alone', async () => {
  const dir = await tempDir('registry-dependency-memo', cleanup)
  await symlink(join(arboristMain, '../../../..'), join(dir, 'node_modules'))
  await mkdir(join(dir, 'lib'))
  await writeFile(join(dir, 'lib/index.js'), 'module.exports = {}\n')
  await writeFile(join(dir, 'lib/node.js'), "const npa = require('npm-package-arg')\nmodule.exports = class Node {\n  get isRegistryDependency () {\n    return !!npa('x').registry\n  }\n}\n")
  const main = join(dir, 'lib/index.js')
  const proto = (createRequire(main)('./node.js') as { prototype: object }).prototype
  const before = Object.getOwnPropertyDescriptor(proto, 'isRegistryDependency')
  assert.equal(memoizeRegistryDependency(main).applied, false)
  assert.deepEqual(Object.getOwnPropertyDescriptor(proto, 'isRegistryDependency'), before)
})
