/**
 * The extractor against npm on tarballs `npm pack` never makes but a registry may serve: long
 * names (pax, GNU, ustar prefix), links, a file under a symlinked folder, `..` and absolute
 * paths, duplicate entries, `.gitignore` with and without `.npmignore`, nested bins, mode 0 and
 * setuid, and broken archives. Every file's bytes and mode, and the output, must be npm's.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { assertConforms } from '../helpers/conformance-matrix.ts'
import { createConformance, describeResult, type Conformance, type ConformanceCase } from '../helpers/conformance.ts'
import { startFixtureRegistries, type FixtureRegistries } from '../helpers/fixture-registries.ts'
import { crafted, native } from './crafted.ts'

describe('extractor fidelity against npm on crafted tarballs', { concurrency: 2 }, () => {
  let registries: FixtureRegistries
  let conformance: Conformance
  let projects: string

  const project = async (name: string, deps: string[]): Promise<string> => {
    const dir = join(projects, name)
    await mkdir(dir, { recursive: true })
    const dependencies = Object.fromEntries(deps.map((dep) => [dep, '1.0.0']))
    await writeFile(join(dir, 'package.json'), `${JSON.stringify({ name, version: '1.0.0', dependencies }, null, 2)}\n`)
    return dir
  }
  /** ci from a lockfile npm wrote, with `resolved` URLs as most lockfiles have them. */
  const ciCase = (dir: string, extra: Partial<ConformanceCase> = {}): ConformanceCase => ({
    project: dir,
    args: ['ci'],
    async prepare (base, context) {
      const made = await context.npm(['install', '--package-lock-only', '--ignore-scripts'], base)
      assert.equal(made.code, 0, made.stderr)
    },
    ...extra,
  })

  before(async () => {
    projects = await mkdtemp(join(tmpdir(), 'ipfs-npm-extract-fidelity-'))
    registries = await startFixtureRegistries({ packages: crafted })
    conformance = createConformance({ registries })
  })
  after(async () => {
    await conformance?.cleanup()
    await registries?.stop()
    await rm(projects, { recursive: true, force: true })
  })

  test('every well-formed oddity: same files, modes, links and output as npm', async () => {
    const result = await conformance.run(ciCase(await project('crafted', [...native, 'x-global-pax'])))
    assertConforms(result, {})
    const tree = result.ipfsNpm.tree
    // the cases are what they say (npm's own tree shows it)
    assert.equal(tree.get('node_modules/x-links/lnk')?.type, 'dir', describeResult(result))
    assert.equal(tree.get('node_modules/x-links/soft'), undefined)
    assert.equal(tree.get('node_modules/x-ignores/.npmignore')?.type, 'file')
    assert.equal(tree.get('node_modules/escape.txt'), undefined)
    const setuid = tree.get('node_modules/x-modes/setuid')
    assert.ok(setuid?.type === 'file' && (setuid.mode & 0o4000) !== 0, 'setuid bit kept as tar keeps it')
  })

  test('over an existing node_modules, ci ends as a clean install does', async () => {
    const dir = await project('crafted-again', native)
    const result = await conformance.run(ciCase(dir, {
      async prepare (base, context) {
        const made = await context.npm(['install', '--ignore-scripts'], base)
        assert.equal(made.code, 0, made.stderr)
        // a user edited a file in node_modules: ci replaces it, as npm does
        await writeFile(join(base, 'node_modules', 'x-dupes', 'dup.txt'), 'edited\n')
        await writeFile(join(base, 'node_modules', 'x-dupes', 'extra.txt'), 'not in the tarball\n')
      },
    }))
    assertConforms(result, {})
  })

  // One package each, as tar's warnings of packages unpacked at once come in any order. npm's own
  // outcome for each: `..` and absolute paths warn; a gzip cut short fails with zlib's
  // Z_BUF_ERROR (exit 251), a corrupt one with Z_DATA_ERROR (253), a tar cut inside a file with tar's.
  for (const [name, npmExit] of [['x-dotdot', 0], ['x-absolute', 0], ['x-truncated', 251], ['x-corrupt', 253], ['x-short-tar', 1]] as const) {
    test(`${name}: ends as npm ends, output and error code included`, async () => {
      const result = await conformance.run(ciCase(await project(name, [name])))
      assertConforms(result, { npmExit })
    })
  }
})
