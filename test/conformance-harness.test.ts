/**
 * The conformance harness itself: npm against npm conforms (no false alarms), and a stand-in
 * that behaves differently is caught (exit code, missing files, executable bits, symlinks).
 */
import assert from 'node:assert/strict'
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createConformance, lineDiff } from './helpers/conformance.ts'
import type { Conformance } from './helpers/conformance.ts'
import { describeConformance } from './helpers/conformance-matrix.ts'
import { startFixtureRegistries } from './helpers/fixture-registries.ts'
import type { FixtureRegistries } from './helpers/fixture-registries.ts'
import { truncateJson } from './helpers/project-edits.ts'
import { diffTrees, snapshotTree } from './helpers/tree-snapshot.ts'
import { tempDir } from './helpers/temp-dir.ts'

describeConformance('npm against npm conforms', [
  { name: 'basic: ci', project: 'basic', args: ['ci'], origins: false },
  { name: 'workspaces: install', project: 'workspaces', args: ['install'], origins: false },
  { name: 'scripts: ci', project: 'scripts', args: ['ci'], origins: false },
  { name: 'invalid package.json: ci', project: 'basic', args: ['ci'], npmExit: 1, keepsUserFiles: true, prepare: dir => truncateJson(dir, 'package.json') },
], { ipfsNpmCommand: ['npm'] })

describe('a different stand-in is caught', () => {
  let registries: FixtureRegistries
  const made: Conformance[] = []
  const conformance = (ipfsNpmCommand: string[]): Conformance => {
    const c = createConformance({ registries, ipfsNpmCommand })
    made.push(c)
    return c
  }
  before(async () => { registries = await startFixtureRegistries() })
  after(async () => {
    await Promise.all(made.map(c => c.cleanup()))
    await registries.stop()
  })

  test('missing dev dependencies and their bin links', async () => {
    const result = await conformance(['npm', '--omit=dev']).run({ project: 'basic', args: ['ci'] })
    assert.ok(result.differences.includes('only in npm: node_modules/dev-tool (directory)'), result.differences.join('\n'))
    assert.ok(result.differences.includes('only in npm: node_modules/.bin/dev-tool (symlink -> ../dev-tool/cli.js)'), result.differences.join('\n'))
    assert.ok(result.differences.some(d => d.startsWith('node_modules/.package-lock.json: ')))
  })

  test('another exit code and no output', async () => {
    const result = await conformance([process.execPath, '-e', 'process.exit(3)', '--']).run({ project: 'basic', args: ['ci'] })
    assert.equal(result.differences[0], 'exit code: 0 (npm) vs 3 (ipfs-npm)')
    assert.ok(result.differences.some(d => d.startsWith('stdout differs:')))
    assert.ok(result.differences.includes('only in npm: node_modules (directory)'))
  })
})

describe('tree snapshots and diffs', () => {
  let dir: string
  before(async () => { dir = await tempDir('tree-test') })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  test('modes, symlink targets and bytes all count', async () => {
    const make = async (name: string, mode: number, target: string, text: string): Promise<string> => {
      const root = join(dir, name)
      await mkdir(join(root, 'bin'), { recursive: true })
      await writeFile(join(root, 'bin', 'cli.js'), text, { mode })
      await symlink(target, join(root, 'link'))
      return root
    }
    const a = await snapshotTree(await make('a', 0o755, 'bin/cli.js', 'x'))
    const b = await snapshotTree(await make('b', 0o644, 'bin/other.js', 'y'))
    const lines = diffTrees(a, b, ['npm', 'ipfs-npm'])
    assert.equal(lines.length, 2)
    assert.match(lines[0]!, /^bin\/cli\.js: file 1 B sha256 \w+ mode 755 \(npm\) vs file 1 B sha256 \w+ mode 644 \(ipfs-npm\)$/)
    assert.equal(lines[1], 'link: symlink -> bin/cli.js (npm) vs symlink -> bin/other.js (ipfs-npm)')
  })

  test('line diffs show every hunk', () => {
    const diff = lineDiff('a\nb\nc\nd\ne\nf\ng\nh', 'a\nB\nc\nd\ne\nf\ng\nH')
    assert.equal(diff, ['  (- npm, + ipfs-npm)', '    a', '  - b', '  + B', '    c', '    d', '  ...', '    f', '    g', '  - h', '  + H'].join('\n'))
  })
})
