/**
 * src/commands/named-edge-index.ts: a tree Arborist loads from a lockfile (the ideal tree) or a
 * hidden lockfile (the actual tree) is the same with the index as without, edge by edge, in
 * edgesIn order, override sets, dep flags and the lockfile Arborist would write.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { cp, mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { after, test } from 'node:test'
import { installNamedEdgeIndex } from '../src/commands/named-edge-index.ts'
import { sharedFixture } from './helpers/shared-fixtures.ts'
import { tempDir } from './helpers/temp-dir.ts'

const require = createRequire(import.meta.url)
const arboristMain = require.resolve('@npmcli/arborist')
const Arborist = require('@npmcli/arborist') as new (options: Record<string, unknown>) => {
  buildIdealTree(): Promise<unknown>
  loadActual(options?: Record<string, unknown>): Promise<unknown>
  idealTree: Tree
}

interface Tree {
  inventory: Map<string, TreeNode>
  meta: { commit(): unknown, hiddenLockfile: boolean, loadedFromDisk: boolean }
}
interface OverrideSet { key?: string, parent?: OverrideSet }
interface TreeNode {
  location: string
  isLink: boolean
  dev: boolean
  optional: boolean
  devOptional: boolean
  peer: boolean
  extraneous: boolean
  overrides?: OverrideSet
  edgesOut: Map<string, { type: string, spec: string, to: TreeNode | null, error: string | null, overrides?: OverrideSet }>
  edgesIn: Set<{ from: TreeNode | null, name: string }>
}

const cleanup: Array<() => Promise<void>> = []
after(async () => { for (const step of cleanup) await step() })

const overrideChain = (set: OverrideSet | undefined): string => set === undefined ? '-' : `${set.key ?? 'root'}<${overrideChain(set.parent)}`

/** Every node and edge of a tree, one line each, in Arborist's own orders. */
function describe (tree: Tree): string[] {
  const lines: string[] = []
  for (const [location, node] of tree.inventory) {
    lines.push(`${location} link=${node.isLink} dev=${node.dev} optional=${node.optional} devOptional=${node.devOptional} peer=${node.peer} extraneous=${node.extraneous} overrides=${overrideChain(node.overrides)}`)
    for (const [name, edge] of node.edgesOut) lines.push(`  out ${name} ${edge.type} ${edge.spec} -> ${edge.to?.location ?? null} error=${edge.error} overrides=${overrideChain(edge.overrides)}`)
    for (const edge of node.edgesIn) lines.push(`  in ${edge.from?.location ?? null} ${edge.name}`)
  }
  return lines
}

/** The ideal and the actual tree of `dir`, described, and the lockfile Arborist would write. */
async function loadTrees (dir: string): Promise<{ ideal: string[], actual: string[], lockfile: string }> {
  const arb = new Arborist({ path: dir })
  await arb.buildIdealTree()
  const actual = await new Arborist({ path: dir }).loadActual({ ignoreMissing: true }) as Tree
  assert.equal(actual.meta.hiddenLockfile && actual.meta.loadedFromDisk, true, 'the actual tree is loaded from the hidden lockfile')
  return { ideal: describe(arb.idealTree), actual: describe(actual), lockfile: JSON.stringify(arb.idealTree.meta.commit()) }
}

/** The trees loaded without, then with the index. */
async function bothWays (dir: string): Promise<Array<Awaited<ReturnType<typeof loadTrees>>>> {
  const without = await loadTrees(dir)
  const index = installNamedEdgeIndex(arboristMain)
  try {
    assert.equal(index.applied, true, "Arborist's shape changed: the index no longer applies")
    return [without, await loadTrees(dir)]
  } finally {
    index.restore()
  }
}

function assertSame (without: string[], withIndex: string[], what: string): void {
  // the first difference, not two thousand lines of them
  const at = without.findIndex((line, i) => line !== withIndex[i])
  assert.equal(at === -1 && without.length === withIndex.length, true, `${what} differs at line ${at}: ${without[at]} vs ${withIndex[at]}`)
}

type LockEntry = { version?: string, link?: boolean, resolved?: string, dependencies?: Record<string, string> }

/**
 * The node_modules an install of the lockfile leaves (each package's package.json, links for
 * links) and its hidden lockfile, written last, as npm leaves them: Arborist loads the actual
 * tree from it.
 */
async function installSkeleton (dir: string): Promise<void> {
  const lock = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry & Record<string, unknown>> }
  const hidden: Record<string, unknown> = {}
  for (const [location, entry] of Object.entries(lock.packages)) {
    // a folder outside node_modules the lockfile names but the project lacks is in no hidden lockfile
    if (location === '' || (!location.includes('node_modules/') && !existsSync(join(dir, location)))) continue
    hidden[location] = entry
    if (!location.includes('node_modules/')) continue
    const path = join(dir, location)
    await mkdir(dirname(path), { recursive: true })
    if (entry.link === true) {
      await symlink(relative(dirname(path), join(dir, entry.resolved!)), path)
      continue
    }
    await mkdir(path, { recursive: true })
    const name = location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length)
    const { resolved: _r, integrity: _i, dev: _d, optional: _o, devOptional: _do, peer: _p, ...manifest } = entry
    await writeFile(join(path, 'package.json'), JSON.stringify({ name, ...manifest }))
  }
  const hiddenPath = join(dir, 'node_modules', '.package-lock.json')
  const { packages: _, ...head } = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as Record<string, unknown>
  await writeFile(hiddenPath, JSON.stringify({ ...head, packages: hidden }, null, 2))
  // newer than every folder it describes, as Arborist requires of it
  const later = new Date(Date.now() + 60_000)
  await utimes(hiddenPath, later, later)
}

test('the monorepo fixture: the same trees with the index as without', async () => {
  const dir = await tempDir('named-edge-index', cleanup)
  await cp(sharedFixture('monorepo'), dir, { recursive: true })
  await installSkeleton(dir)
  const [without, withIndex] = await bothWays(dir)
  assert.ok(without.ideal.length > 5000 && without.actual.length > 5000, 'both trees loaded whole')
  assertSame(without.ideal, withIndex.ideal, 'the ideal tree')
  assertSame(without.actual, withIndex.actual, 'the actual tree')
  assert.equal(withIndex.lockfile, without.lockfile)
})

/**
 * Overrides (one for a package everywhere, one for a dependency of one package only), workspaces
 * (links, one with its own nested copy of a package), nested duplicates at two depths.
 */
async function craftedProject (dir: string): Promise<void> {
  const pkg = {
    name: 'proj',
    version: '1.0.0',
    workspaces: ['packages/*'],
    dependencies: { a: '^1.0.0', c: '^1.0.0', e: '^1.0.0' },
    overrides: { c: { d: '1.0.0' }, f: '1.1.0' },
  }
  const w1 = { name: 'w1', version: '1.0.0', dependencies: { a: '^2.0.0', d: '^2.0.0' } }
  const w2 = { name: 'w2', version: '1.0.0', dependencies: { w1: '^1.0.0', f: '^1.0.0' } }
  const packages: Record<string, LockEntry & { name?: string, dependencies?: Record<string, string> }> = {
    '': { ...pkg, overrides: undefined } as LockEntry,
    'node_modules/a': { version: '1.0.0', dependencies: { b: '^1.0.0' } },
    'node_modules/b': { version: '1.0.0' },
    'node_modules/c': { version: '1.0.0', dependencies: { d: '^2.0.0', f: '^1.0.0' } },
    'node_modules/c/node_modules/d': { version: '1.0.0', dependencies: { b: '^1.0.0', f: '^1.0.0' } },
    'node_modules/d': { version: '2.0.0', dependencies: { b: '^2.0.0' } },
    'node_modules/d/node_modules/b': { version: '2.0.0' },
    'node_modules/e': { version: '1.0.0', dependencies: { d: '^2.0.0', f: '^1.0.0' } },
    'node_modules/f': { version: '1.1.0' },
    'node_modules/w1': { resolved: 'packages/w1', link: true },
    'node_modules/w2': { resolved: 'packages/w2', link: true },
    'packages/w1': { ...w1 },
    'packages/w1/node_modules/a': { version: '2.0.0', dependencies: { b: '^2.0.0' } },
    'packages/w1/node_modules/b': { version: '2.0.0' },
    'packages/w2': { ...w2 },
  }
  await writeFile(join(dir, 'package.json'), JSON.stringify(pkg, null, 2))
  for (const ws of [w1, w2]) {
    await mkdir(join(dir, 'packages', ws.name), { recursive: true })
    await writeFile(join(dir, 'packages', ws.name, 'package.json'), JSON.stringify(ws, null, 2))
  }
  const root = { ...packages[''] } as Record<string, unknown>
  delete root.overrides
  await writeFile(join(dir, 'package-lock.json'), JSON.stringify({ name: 'proj', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { ...packages, '': root } }, null, 2))
}

test('overrides, links and nested duplicates: the same trees with the index as without', async () => {
  const dir = await tempDir('named-edge-index', cleanup)
  await craftedProject(dir)
  await installSkeleton(dir)
  const [without, withIndex] = await bothWays(dir)
  for (const [what, lines] of [['ideal', without.ideal], ['actual', without.actual]] as const) {
    // the case is what it says: overrides applied where they apply, every edge valid
    for (const line of ['  out d prod 1.0.0 -> node_modules/c/node_modules/d error=null overrides=d<c<root<-',
      'node_modules/f link=false dev=false optional=false devOptional=false peer=false extraneous=false overrides=f<root<-',
      '  out a prod ^2.0.0 -> packages/w1/node_modules/a error=null',
      '  out b prod ^2.0.0 -> packages/w1/node_modules/b error=null']) {
      assert.ok(lines.some((l) => l.startsWith(line)), `${what} tree: no "${line}" in\n${lines.join('\n')}`)
    }
    assert.deepEqual(lines.filter((line) => line.startsWith('  out ') && !line.includes(' error=null ')), [], `${what} tree: every edge valid`)
  }
  assertSame(without.ideal, withIndex.ideal, 'the ideal tree')
  assertSame(without.actual, withIndex.actual, 'the actual tree')
  assert.equal(withIndex.lockfile, without.lockfile)
})
