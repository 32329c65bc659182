/**
 * The shared fixtures (`small`, `monorepo`): `shared/` sits beside the repository, here and in CI,
 * so they are found relative to it and nowhere else.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

/** The directory of shared fixture `name`, checked to hold a lockfile. */
export function sharedFixture (name: 'small' | 'monorepo'): string {
  const dir = join(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures', name)
  assert.ok(existsSync(join(dir, 'package-lock.json')), `the shared fixture ../shared/fixtures/${name} is missing`)
  return dir
}
