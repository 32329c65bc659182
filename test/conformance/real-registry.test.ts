/**
 * End to end against the real npm registry (its URL read from the machine's npm config at run
 * time): `ipfs-npm ci` and `npm ci` on the shared ~80-package fixture leave identical trees.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeConformance } from '../helpers/conformance-matrix.ts'
import { runCommand } from '../helpers/run-command.ts'

/** The shared fixture: `shared/` sits beside the repository (in CI too). */
const sharedSmall = [join(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures', 'small'), '/work/shared/fixtures/small']
  .find(path => existsSync(join(path, 'package-lock.json')))
assert.ok(sharedSmall, 'the shared fixture shared/fixtures/small is missing')

/** The registry the machine's npm uses (user and global config), never a name written here. */
const configured = await runCommand('npm', ['config', 'get', 'registry'], { cwd: tmpdir() })
const registry = configured.stdout.trim()
assert.match(registry, /^https?:\/\//, `npm config get registry said: ${configured.stdout}${configured.stderr}`)

describeConformance('the real registry', [
  {
    name: 'shared small fixture: ci',
    project: sharedSmall,
    args: ['ci'],
    npmrc: `registry=${registry}\naudit=false\nfund=false\nupdate-notifier=false\n`,
    timeoutMs: 240_000,
  },
], { fixtureRegistries: false })
