/**
 * src/commands/workspaces.ts: with `shareWorkspaceMaps`, getWorkspaces and Arborist ask
 * map-workspaces once per folder and declaration; each caller gets its own Map, and calls
 * with other options or that fail are not kept.
 */
import assert from 'node:assert/strict'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { getWorkspaces, shareWorkspaceMaps } from '../src/commands/workspaces.ts'
import { tempDir } from './helpers/temp-dir.ts'

const require = createRequire(import.meta.url)
const cleanup: Array<() => Promise<void>> = []
after(async () => { for (const step of cleanup) await step() })

async function writeJson (file: string, value: unknown): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true })
  await writeFile(file, JSON.stringify(value))
}

test("map-workspaces' answers are kept for getWorkspaces and Arborist alike, a Map each", async () => {
  const root = await tempDir('workspaces', cleanup)
  await writeJson(join(root, 'package.json'), { name: 'root', version: '1.0.0', workspaces: ['packages/*'] })
  await writeJson(join(root, 'packages/a/package.json'), { name: 'a', version: '1.0.0' })
  await writeJson(join(root, 'packages/b/package.json'), { name: 'b', version: '1.0.0' })
  const arboristMain = require.resolve('@npmcli/arborist')
  assert.equal(shareWorkspaceMaps(arboristMain), true)
  const all = { path: root, includeWorkspaceRoot: true, relativeFrom: root }
  const first = await getWorkspaces([], all)
  assert.deepEqual([...first], [['root', root], ['a', join(root, 'packages/a')], ['b', join(root, 'packages/b')]])
  first.clear()

  // a workspace added now is not seen: the answer was kept (an install never adds one)
  await writeJson(join(root, 'packages/c/package.json'), { name: 'c', version: '1.0.0' })
  assert.deepEqual([...(await getWorkspaces(['b'], all)).keys()], ['root', 'b'])
  const Arborist = require(arboristMain) as new (options: Record<string, unknown>) => { loadActual(): Promise<{ workspaces: Map<string, string> }> }
  const actual = await new Arborist({ path: root }).loadActual()
  assert.deepEqual([...actual.workspaces.keys()], ['a', 'b'])
  // Arborist's own map is its own
  actual.workspaces.delete('a')
  assert.deepEqual([...(await getWorkspaces([], all)).keys()], ['root', 'a', 'b'])

  // another declaration is another question; other options go to map-workspaces as they are
  const mapWorkspaces = require('@npmcli/map-workspaces') as (opts: Record<string, unknown>) => Promise<Map<string, string>>
  assert.deepEqual([...(await mapWorkspaces({ cwd: root, pkg: { workspaces: ['packages/c'] } })).keys()], ['c'])
  assert.deepEqual([...(await mapWorkspaces({ cwd: root, pkg: { workspaces: ['packages/*'] }, ignore: ['packages/a/**'] })).keys()], ['b', 'c'])
  assert.equal(shareWorkspaceMaps(arboristMain), false, 'Arborist is loaded by now')
})

test('a failed answer is not kept', async () => {
  const root = await tempDir('workspaces-failed', cleanup)
  await writeJson(join(root, 'package.json'), { name: 'root', version: '1.0.0', workspaces: ['packages/*'] })
  await writeJson(join(root, 'packages/a/package.json'), { name: 'same', version: '1.0.0' })
  await writeJson(join(root, 'packages/b/package.json'), { name: 'same', version: '1.0.0' })
  shareWorkspaceMaps(require.resolve('@npmcli/arborist'))
  const all = { path: root, includeWorkspaceRoot: false, relativeFrom: root }
  await assert.rejects(getWorkspaces([], all), { code: 'EDUPLICATEWORKSPACE' })
  await rm(join(root, 'packages/b'), { recursive: true })
  assert.deepEqual([...(await getWorkspaces([], all)).keys()], ['same'])
})
