/**
 * End to end against the real npm registry (its URL read from the machine's npm config at run
 * time): `ipfs-npm ci` and `npm ci` on the shared fixtures — `small` (79 packages) and `monorepo`
 * (socket.io's workspaces monorepo, 1,270 packages) — leave identical trees and print the same.
 */
import assert from 'node:assert/strict'
import { tmpdir } from 'node:os'
import { describeConformance } from '../helpers/conformance-matrix.ts'
import { sharedFixture } from '../helpers/shared-fixtures.ts'
import { runCommand } from '../helpers/run-command.ts'

/** The registry the machine's npm uses (user and global config), never a name written here. */
const configured = await runCommand('npm', ['config', 'get', 'registry'], { cwd: tmpdir() })
const registry = configured.stdout.trim()
assert.match(registry, /^https?:\/\//, `npm config get registry said: ${configured.stdout}${configured.stderr}`)

describeConformance('the real registry', [
  {
    name: 'shared small fixture: ci',
    project: sharedFixture('small'),
    args: ['ci'],
    npmrc: `registry=${registry}\naudit=false\nfund=false\nupdate-notifier=false\n`,
    timeoutMs: 240_000,
  },
  {
    name: 'shared monorepo fixture (workspaces, 1,270 packages): ci',
    project: sharedFixture('monorepo'),
    args: ['ci', '--ignore-scripts'],
    npmrc: `registry=${registry}\naudit=false\nfund=false\nupdate-notifier=false\n`,
    timeoutMs: 600_000,
  },
], { fixtureRegistries: false })
