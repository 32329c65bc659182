/**
 * src/commands/package-versions.ts: the versions read on a worker thread are the ones read on
 * the main thread, for package.json files of every kind (a version, none, not a string, duplicate
 * keys, corrupt, empty, missing, a folder in its place); and src/commands/kept-tree.ts, reading
 * them on a worker, keeps the same tree, or refuses the same trees, as reading them on the main
 * thread.
 */
import assert from 'node:assert/strict'
import { mkdir, utimes, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { after, test } from 'node:test'
import type { ShrinkwrapClass } from '../src/commands/arborist-types.ts'
import { keptTree } from '../src/commands/kept-tree.ts'
import type { LockedPackages } from '../src/commands/locked-packages.ts'
import { readPackageVersions, readPackageVersionsHere } from '../src/commands/package-versions.ts'
import { tempDir } from './helpers/temp-dir.ts'

const require = createRequire(import.meta.url)
const { Shrinkwrap } = require('@npmcli/arborist') as { Shrinkwrap: ShrinkwrapClass }

const cleanup: Array<() => Promise<void>> = []
after(async () => { for (const step of cleanup) await step() })

test('every kind of package.json gives the same answer on a worker as on the main thread', async () => {
  const dir = await tempDir('package-versions', cleanup)
  const files: Record<string, string | undefined> = {
    plain: '{"name":"plain","version":"1.2.3"}',
    none: '{"name":"none"}',
    number: '{"version":1}',
    nullish: '{"version":null}',
    object: '{"version":{"major":1}}',
    twice: '{"version":"1.0.0","version":"2.0.0"}',
    nested: '{"engines":{"version":"9"},"version":"0.0.1-beta.2"}',
    bom: '\uFEFF{"version":"1.0.0"}',
    corrupt: '{"version":"1.0.0"',
    empty: '',
    array: '["1.0.0"]',
    missing: undefined,
  }
  const folders: string[] = []
  for (const [name, text] of Object.entries(files)) {
    const folder = join(dir, name)
    folders.push(folder)
    await mkdir(folder)
    if (text !== undefined) await writeFile(join(folder, 'package.json'), text)
  }
  const folderInPlace = join(dir, 'folder')
  await mkdir(join(folderInPlace, 'package.json'), { recursive: true })
  folders.push(folderInPlace, join(dir, 'no such folder'))

  const here = readPackageVersionsHere(folders)
  assert.deepEqual(here, [['1.2.3'], [undefined], [1], [null], [{ major: 1 }], ['2.0.0'], ['0.0.1-beta.2'], null, null, null, [undefined], null, null, null])
  assert.deepEqual(await readPackageVersions(folders), here)
  assert.deepEqual(await readPackageVersions([]), [])
})

/** An installed project as npm leaves it: package-lock.json, node_modules and its hidden lockfile, written last. */
async function installedProject (edit?: (dir: string) => Promise<void>): Promise<{ dir: string, locked: LockedPackages }> {
  const dir = await tempDir('package-versions-kept', cleanup)
  const entry = (name: string, version: string | undefined): Record<string, unknown> => ({
    ...(version === undefined ? {} : { version }),
    resolved: `https://registry.example/${name}/-/${name}-${version ?? '0'}.tgz`,
    integrity: `sha512-${Buffer.from(`${name}@${version ?? ''}`).toString('base64')}`,
  })
  const packages: Record<string, Record<string, unknown>> = {
    'node_modules/alpha': entry('alpha', '1.1.0'),
    'node_modules/beta': entry('beta', '2.0.0'),
    'node_modules/beta/node_modules/alpha': entry('alpha', '1.0.0'),
    'node_modules/unversioned': entry('unversioned', undefined),
  }
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'root', version: '1.0.0', dependencies: { alpha: '^1.1.0', beta: '^2.0.0', unversioned: '*' } }))
  await writeFile(join(dir, 'package-lock.json'), JSON.stringify({ name: 'root', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'root', version: '1.0.0' }, ...packages } }, null, 2))
  for (const [location, meta] of Object.entries(packages)) {
    await mkdir(join(dir, location), { recursive: true })
    const name = location.split('/').pop()!
    await writeFile(join(dir, location, 'package.json'), JSON.stringify({ name, ...(meta.version === undefined ? {} : { version: meta.version }) }))
  }
  await edit?.(dir)
  const hidden = join(dir, 'node_modules', '.package-lock.json')
  await writeFile(hidden, JSON.stringify({ name: 'root', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2))
  const later = new Date(Date.now() + 60_000)
  await utimes(hidden, later, later)
  return { dir, locked: packages as LockedPackages }
}

test('the kept tree is the same, or refused alike, with the versions read on a worker as on the main thread', async () => {
  const cases: Array<{ name: string, edit?: (dir: string) => Promise<void>, kept: boolean }> = [
    { name: 'nothing changed', kept: true },
    { name: 'a nested package.json at another version', edit: (dir) => writeFile(join(dir, 'node_modules/beta/node_modules/alpha/package.json'), '{"name":"alpha","version":"1.1.0"}'), kept: false },
    { name: 'a corrupt package.json', edit: (dir) => writeFile(join(dir, 'node_modules/beta/package.json'), '{"name":"beta",'), kept: false },
    { name: 'a version where the lockfile has none', edit: (dir) => writeFile(join(dir, 'node_modules/unversioned/package.json'), '{"name":"unversioned","version":"1.0.0"}'), kept: false },
  ]
  for (const { name, edit, kept } of cases) {
    const { dir, locked } = await installedProject(edit)
    const load = async (readVersions?: typeof readPackageVersions): Promise<string[] | undefined> => {
      const tree = await keptTree({ root: dir, emptied: [], locked, Shrinkwrap, readVersions })
      return tree === undefined ? undefined : [...tree.locations]
    }
    const here = await load(async (folders) => readPackageVersionsHere(folders))
    assert.deepEqual(await load(), here, name)
    if (kept) assert.deepEqual(here, ['node_modules/alpha', 'node_modules/beta', 'node_modules/beta/node_modules/alpha', 'node_modules/unversioned'], name)
    else assert.equal(here, undefined, name)
  }
})
