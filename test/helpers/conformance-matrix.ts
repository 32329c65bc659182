/**
 * Declares a table of conformance cases as node:test tests that share one pair of fixture
 * registries and run a few at a time, and the assertions every case makes.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createConformance, describeResult, parseOrigins } from './conformance.ts'
import type { Conformance, ConformanceCase, ConformanceResult } from './conformance.ts'
import { startFixtureRegistries } from './fixture-registries.ts'
import type { FixtureRegistries } from './fixture-registries.ts'
import { diffTrees } from './tree-snapshot.ts'
import type { TreeSnapshot } from './tree-snapshot.ts'

export interface MatrixCase extends ConformanceCase {
  name: string
  /** npm's own exit code for the case (a control: the case tests what it means to); default 0. */
  npmExit?: number
  /** Require ipfs-npm's origins line; default: when npm succeeds. */
  origins?: boolean
  /** Require that no file outside node_modules changed or vanished (bad input); default false. */
  keepsUserFiles?: boolean
  /** Further assertions on the result. */
  check?(result: ConformanceResult, registries: FixtureRegistries | undefined): void | Promise<void>
}

export interface MatrixOptions {
  /** Cases run at once within the table; default 3 (each runs npm and ipfs-npm side by side). */
  concurrency?: number
  /** Stands in for ipfs-npm (the harness's own tests use `['npm']`). */
  ipfsNpmCommand?: string[]
  /** Start the fixture registries (default true; the real-registry test needs none). */
  fixtureRegistries?: boolean
}

/**
 * What a case with its own `timeoutMs` gets beyond it, for copying the project and snapshotting and
 * comparing both trees: the suite's --test-timeout (300 s) would otherwise cut it short of the
 * bound it set for its tools. The real registry's monorepo case (600 s for each tool) took 211 s
 * of its 300 s in a full suite run at load 9-20.
 */
const CHECK_MS = 120_000

/** Registers `cases` as tests under `title`. */
export function describeConformance (title: string, cases: MatrixCase[], options: MatrixOptions = {}): void {
  describe(title, { concurrency: options.concurrency ?? 3 }, () => {
    let registries: FixtureRegistries | undefined
    let conformance: Conformance
    before(async () => {
      if (options.fixtureRegistries ?? true) registries = await startFixtureRegistries()
      conformance = createConformance({ registries, ipfsNpmCommand: options.ipfsNpmCommand })
    })
    after(async () => {
      await conformance?.cleanup()
      await registries?.stop()
    })
    for (const testCase of cases) {
      test(testCase.name, testCase.timeoutMs === undefined ? {} : { timeout: testCase.timeoutMs + CHECK_MS }, async () => {
        const result = await conformance.run(testCase)
        assertConforms(result, testCase)
        await testCase.check?.(result, registries)
      })
    }
  })
}

/** The assertions every case makes; failures print both runs' output and every difference. */
export function assertConforms (result: ConformanceResult, expected: Pick<MatrixCase, 'npmExit' | 'origins' | 'keepsUserFiles'>): void {
  const npmExit = expected.npmExit ?? 0
  assert.equal(result.npm.code, npmExit, `npm itself exited ${result.npm.code}, not ${npmExit}: the case is wrong\n${describeResult(result)}`)
  if (expected.keepsUserFiles === true) {
    assert.deepEqual(lostUserFiles(result.before, result.npm.tree), [], `npm changed the user's files\n${describeResult(result)}`)
    assert.deepEqual(lostUserFiles(result.before, result.ipfsNpm.tree), [], `ipfs-npm changed the user's files\n${describeResult(result)}`)
  }
  assert.deepEqual(result.differences, [], describeResult(result))
  if (expected.origins ?? npmExit === 0) {
    assert.ok(parseOrigins(result.ipfsNpm), `ipfs-npm printed no "N from cache, M from peers, K from registry" line\n${describeResult(result)}`)
  }
}

/** Files and links outside node_modules that the run removed or changed. */
export function lostUserFiles (before: TreeSnapshot, after: TreeSnapshot): string[] {
  const userPaths = [...before.keys()].filter(path => !path.split('/').includes('node_modules'))
  const pick = (tree: TreeSnapshot): TreeSnapshot =>
    new Map(userPaths.flatMap(path => tree.has(path) ? [[path, tree.get(path)!] as const] : []))
  return diffTrees(pick(before), pick(after), ['before', 'after'])
}
