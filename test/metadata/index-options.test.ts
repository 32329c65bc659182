/**
 * The index options as a user meets them: a bad index name in a flag or in `.ipfs-npmrc` is a
 * one-line usage error before anything is fetched, and a project's `@scope:index` is read.
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { resolveOptions } from '../../src/options.ts'
import { ipfsNpmBin } from '../helpers/conformance.ts'
import { runCommand } from '../helpers/run-command.ts'
import { tempDir } from '../helpers/temp-dir.ts'

const cleanup: Array<() => Promise<void>> = []
after(async () => { for (const step of cleanup) await step() })

const NAME = 'k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8'

test('a bad index name, as a flag or in .ipfs-npmrc, is a one-line EUSAGE', async () => {
  const dir = await tempDir('index-options', cleanup)
  const project = join(dir, 'app')
  await mkdir(project)
  await writeFile(join(project, 'package.json'), '{"name":"app","version":"1.0.0"}\n')
  const config = join(dir, 'npmrc')
  await writeFile(config, 'registry=http://127.0.0.1:9/\n')
  const flag = await runCommand(process.execPath, [ipfsNpmBin, 'install', '--index', 'not-an-index', '--userconfig', config, '--cache', join(dir, 'cache')], { cwd: project })
  assert.equal(flag.code, 1)
  assert.match(flag.stderr, /^npm error code EUSAGE$/m)
  assert.match(flag.stderr, /^npm error --index: invalid index name "not-an-index": expected an IPNS key name such as k51…$/m)

  await writeFile(join(project, '.ipfs-npmrc'), '@myco:index = nope\n')
  const rc = await runCommand(process.execPath, [ipfsNpmBin, 'install', '--userconfig', config, '--cache', join(dir, 'cache')], { cwd: project })
  assert.equal(rc.code, 1)
  assert.match(rc.stderr, /^npm error --scope-index: invalid index name "nope"/m)
})

test('.ipfs-npmrc: index and @scope:index lines, the project\'s over the home directory\'s', async () => {
  const home = await tempDir('index-options', cleanup)
  const project = join(home, 'app')
  await mkdir(project)
  await writeFile(join(home, '.ipfs-npmrc'), `index = ${NAME}\n@myco:index = /ipns/${NAME}\n`)
  await writeFile(join(project, '.ipfs-npmrc'), `@other:index = ${NAME}\n`)
  const options = resolveOptions({ flags: {}, env: {}, home, projectDir: project })
  assert.deepEqual(options.indexes, [NAME])
  assert.deepEqual(options.scopeIndexes, [`@other=${NAME}`])
  const bare = resolveOptions({ flags: { indexes: ['self'] }, env: {}, home, projectDir: home })
  assert.deepEqual(bare.scopeIndexes, [`@myco=/ipns/${NAME}`])
})
