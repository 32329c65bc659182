/**
 * Where the bytes came from: a fresh cache gets every tarball from peers or the registry, and a
 * second `ci` on the same cache gets all of them from the cache with no tarball request, and
 * still leaves what npm leaves.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { conformanceOverFixtureRegistries, ipfsNpmBin, parseOrigins } from '../helpers/conformance.ts'
import type { ToolRun } from '../helpers/conformance.ts'
import { assertConforms } from '../helpers/conformance-matrix.ts'
import { runCommand } from '../helpers/run-command.ts'
import { diffTrees, snapshotTree } from '../helpers/tree-snapshot.ts'

const suite = conformanceOverFixtureRegistries()

/** Tarballs a run put on disk: lockfile entries with an integrity that are installed (not bundled inside another). */
async function installedTarballs (run: ToolRun): Promise<number> {
  const lock = JSON.parse(await readFile(join(run.dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { integrity?: string, inBundle?: boolean }> }
  return Object.entries(lock.packages)
    .filter(([path, entry]) => entry.integrity !== undefined && entry.inBundle !== true && run.tree.get(path)?.type === 'dir')
    .length
}

for (const project of ['basic', 'scoped', 'bundled']) {
  test(`${project}: fresh cache, then ci again from the warm cache`, async () => {
    const result = await suite.conformance.run({ project, args: ['ci'] })
    assertConforms(result, {})
    const tarballs = await installedTarballs(result.npm)
    const first = parseOrigins(result.ipfsNpm)!
    assert.equal(first.cache, 0, 'a fresh cache holds nothing')
    assert.equal(first.peers + first.registry, tarballs, `every one of the ${tarballs} tarballs counted once`)

    const tarballRequests = (): number => [suite.registries.main, suite.registries.scoped]
      .reduce((n, r) => n + r.requests.filter(q => q.path.endsWith('.tgz')).length, 0)
    const again = async (run: ToolRun): Promise<ToolRun> => {
      const [command, args] = run.tool === 'npm' ? ['npm', []] : [process.execPath, [ipfsNpmBin]]
      const out = await runCommand(command, [...args, 'ci', '--userconfig', result.userconfig, '--cache', run.cache], { cwd: run.dir })
      return { ...run, ...out, tree: await snapshotTree(run.dir) }
    }
    // One at a time, so the tarball request count belongs to ipfs-npm alone.
    const npmAgain = await again(result.npm)
    const before = tarballRequests()
    const ipfsAgain = await again(result.ipfsNpm)
    assert.equal(ipfsAgain.code, 0, ipfsAgain.stderr)
    assert.deepEqual(parseOrigins(ipfsAgain), { cache: tarballs, peers: 0, registry: 0 }, ipfsAgain.stdout)
    assert.equal(tarballRequests() - before, 0, 'no tarball fetched from the registry')
    assert.deepEqual(diffTrees(npmAgain.tree, ipfsAgain.tree, ['npm', 'ipfs-npm']), [])
  })
}
