/**
 * `ci` over an installed workspaces project whose root has a workspace's name: npm's workspace
 * map then drops the root, so npm's ci keeps the root's node_modules and empties only the
 * workspaces'. ipfs-npm loads that kept tree from the hidden lockfile when npm's reading of the
 * folders would find the same (src/commands/kept-tree.ts): the second `ci` of each case runs
 * where the first left a valid hidden lockfile, after an edit made in both copies.
 */
import assert from 'node:assert/strict'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { conformanceOverFixtureRegistries, ipfsNpmBin, lineDiff, normaliseOutput } from '../helpers/conformance.ts'
import type { PrepareContext, ToolRun } from '../helpers/conformance.ts'
import { assertConforms } from '../helpers/conformance-matrix.ts'
import { editJson, npmBefore } from '../helpers/project-edits.ts'
import { runCommand } from '../helpers/run-command.ts'
import { diffTrees, snapshotTree } from '../helpers/tree-snapshot.ts'

const suite = conformanceOverFixtureRegistries()

/** The workspaces fixture with its root named like its workspace `ws-a`, installed by npm. */
async function installedUnderWorkspaceName (dir: string, context: PrepareContext): Promise<void> {
  await editJson(dir, 'package.json', (pkg) => { pkg.name = 'ws-a' })
  await editJson(dir, 'package-lock.json', (lock) => {
    lock.name = 'ws-a';
    (lock.packages as Record<string, Record<string, unknown>>)['']!.name = 'ws-a'
  })
  await npmBefore(dir, context, ['ci'])
}

/** Rewrites a file in place (same inode: its folder's mtime stays, as an editor writing in place leaves it). */
async function editInPlace (path: string, edit: (text: string) => string): Promise<void> {
  await writeFile(path, edit(await readFile(path, 'utf8')))
}

const cases: Array<{ name: string, edit?: (dir: string) => Promise<void>, fromHidden: boolean }> = [
  { name: 'nothing changed', fromHidden: true },
  {
    name: 'a kept package.json edited in place to another version',
    edit: (dir) => editInPlace(join(dir, 'node_modules/alpha/package.json'), (text) => text.replace('"version": "1.1.0"', '"version": "1.0.0"')),
    fromHidden: false,
  },
  {
    name: 'the lockfile given another integrity for a kept package',
    edit: async (dir) => {
      const lock = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { integrity?: string }> }
      lock.packages['node_modules/alpha']!.integrity = lock.packages['node_modules/gamma']!.integrity
      await writeFile(join(dir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`)
    },
    fromHidden: false,
  },
  { name: 'a kept package removed', edit: (dir) => rm(join(dir, 'node_modules/beta'), { recursive: true }), fromHidden: false },
  {
    name: 'a package that is in no lockfile',
    edit: async (dir) => {
      await mkdir(join(dir, 'node_modules/stray'))
      await writeFile(join(dir, 'node_modules/stray/package.json'), '{"name":"stray","version":"1.0.0"}\n')
    },
    fromHidden: false,
  },
]

for (const { name, edit, fromHidden } of cases) {
  test(`root named like a workspace, ci over the installed tree, then again: ${name}`, async () => {
    const result = await suite.conformance.run({ project: 'workspaces', args: ['ci'], prepare: installedUnderWorkspaceName })
    assertConforms(result, {})
    assert.match(result.npm.stdout, /added 3 packages/, 'npm kept the root node_modules and refilled the workspaces\'')

    const again = async (run: ToolRun): Promise<ToolRun> => {
      await edit?.(run.dir)
      const [command, args] = run.tool === 'npm' ? ['npm', []] : [process.execPath, [ipfsNpmBin]]
      const out = await runCommand(command, [...args, 'ci', '--loglevel', 'verbose', '--userconfig', result.userconfig, '--cache', run.cache], { cwd: run.dir })
      return { ...run, ...out, tree: await snapshotTree(run.dir) }
    }
    const [npm, ipfsNpm] = await Promise.all([again(result.npm), again(result.ipfsNpm)])
    assert.equal(ipfsNpm.code, npm.code, ipfsNpm.stderr)
    assert.equal(normaliseOutput(ipfsNpm, 'stdout'), normaliseOutput(npm, 'stdout'), lineDiff(normaliseOutput(npm, 'stdout'), normaliseOutput(ipfsNpm, 'stdout')))
    assert.deepEqual(diffTrees(npm.tree, ipfsNpm.tree, ['npm', 'ipfs-npm']), [])
    // npm reads every package.json; ipfs-npm's Arborist takes the hidden lockfile only when it may
    const rejected = /failed to load node_modules\/\.package-lock\.json/
    assert.match(npm.stderr, rejected)
    if (fromHidden) assert.doesNotMatch(ipfsNpm.stderr, rejected)
    else assert.match(ipfsNpm.stderr, rejected)
  })
}
