/**
 * Each fixture project with `ci` and `install`, from the committed lockfile (no `resolved`) and
 * from one with `resolved` URLs filled in, and `install` with no lockfile at all: ipfs-npm
 * must leave exactly what npm leaves.
 */
import assert from 'node:assert/strict'
import { addResolvedUrls } from '../helpers/conformance.ts'
import { describeConformance } from '../helpers/conformance-matrix.ts'
import type { MatrixCase } from '../helpers/conformance-matrix.ts'
import { removePaths } from '../helpers/project-edits.ts'

const projects = ['basic', 'scoped', 'workspaces', 'bundled', 'file-dep', 'scripts']

/** The scoped registry's token must only ever go to the scoped registry's host. */
const tokenStaysHome: MatrixCase['check'] = (_result, registries) => {
  const leaked = registries!.main.requests.filter(r => r.headers.authorization !== undefined)
  assert.deepEqual(leaked.map(r => `${r.method} ${r.path}`), [], 'a token was sent to the main registry')
}

const cases: MatrixCase[] = projects.flatMap((project): MatrixCase[] => [
  { name: `${project}: ci`, project, args: ['ci'], check: tokenStaysHome },
  { name: `${project}: install`, project, args: ['install'] },
  { name: `${project}: ci, lockfile with resolved`, project, args: ['ci'], prepare: (dir, { registries }) => addResolvedUrls(dir, registries) },
  { name: `${project}: install, lockfile with resolved`, project, args: ['install'], prepare: (dir, { registries }) => addResolvedUrls(dir, registries) },
  { name: `${project}: install without a lockfile`, project, args: ['install'], prepare: dir => removePaths(dir, 'package-lock.json') },
])

describeConformance('each project, ci and install', cases)
