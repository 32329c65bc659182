/**
 * Conformance runs: the same project and command line given to the machine's real `npm` and to
 * `ipfs-npm`, each in its own copy of the project with its own fresh cache and the same fresh
 * user config, then compared: exit code, output (normalised, ipfs-npm's origins line aside),
 * and every file of the project tree — package.json, package-lock.json and each file under every
 * node_modules (bytes, mode, symlink targets).
 */
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { after, before } from 'node:test'
import { basename, isAbsolute, join } from 'node:path'
import type { FixtureRegistries } from './fixture-registries.ts'
import { privateScope, startFixtureRegistries } from './fixture-registries.ts'
import { runCommand } from './run-command.ts'
import type { CommandResult } from './run-command.ts'
import { diffTrees, snapshotTree } from './tree-snapshot.ts'
import type { TreeSnapshot } from './tree-snapshot.ts'
import { tempDir } from './temp-dir.ts'

/**
 * The ipfs-npm entry point, as users run it. `IPFS_NPM_BIN` may name another entry script, e.g.
 * a copy of a build taken so that others rebuilding dist/ meanwhile cannot break a long run.
 */
export const ipfsNpmBin = process.env.IPFS_NPM_BIN ?? join(import.meta.dirname, '..', '..', 'bin', 'ipfs-npm.js')
/** Fixture projects (test/fixtures/projects). */
export const fixtureProjectsDir = join(import.meta.dirname, '..', 'fixtures', 'projects')

/** Which CLI a run used. */
export type Tool = 'npm' | 'ipfs-npm'

/** What a case may do to its project before the two copies are made. */
export interface PrepareContext {
  registries: FixtureRegistries | undefined
  /** The user config file both tools get. */
  userconfig: string
  /** Runs the real npm with the fixture registries' user config and a scratch cache, e.g. a prior install. */
  npm(args: string[], cwd: string): Promise<CommandResult>
}

export interface ConformanceCase {
  /** A fixture project's name, or an absolute path to a project folder. */
  project: string
  /** The command line after `npm`/`ipfs-npm`; `--userconfig` and `--cache` are appended. */
  args: string[]
  /** Where in the project the command runs, e.g. a workspace's folder; default its root. */
  cwd?: string
  /** Changes the base copy (both tools get the result): fill `resolved`, break a file… */
  prepare?(dir: string, context: PrepareContext): Promise<void>
  /** Extra user config lines for both tools. */
  userconfig?: string[]
  /** Extra environment for both tools. */
  env?: Record<string, string>
  /** The whole user config instead of the fixture registries' (a real registry, a wrong token…). */
  npmrc?: string | ((registries: FixtureRegistries | undefined) => string)
  /** How long each tool's run may take (side by side); a matrix case's test gets this plus CHECK_MS. */
  timeoutMs?: number
}

/** One tool's run of a case. */
export interface ToolRun extends CommandResult {
  tool: Tool
  /** Its copy of the project. */
  dir: string
  cache: string
  /** The project tree after the run. */
  tree: TreeSnapshot
}

export interface ConformanceResult {
  /** The project tree both tools started from. */
  before: TreeSnapshot
  /** The user config file both tools got. */
  userconfig: string
  npm: ToolRun
  ipfsNpm: ToolRun
  /** Every way ipfs-npm's run differs from npm's; empty when they conform. */
  differences: string[]
}

export interface Conformance {
  run(testCase: ConformanceCase): Promise<ConformanceResult>
  /** Removes every temp dir this instance made. */
  cleanup(): Promise<void>
}

/** The line ipfs-npm adds to npm's output: `N from cache, M from peers, K from registry`. */
const originsPattern = /(\d+) from cache, (\d+) from peers(?: \([^)]*\))?, (\d+) from registry/

/** Where ipfs-npm's tarballs came from, read from its output, or undefined without the line. */
export function parseOrigins (run: CommandResult): { cache: number, peers: number, registry: number } | undefined {
  const match = originsPattern.exec(`${run.stdout}\n${run.stderr}`)
  if (match === null) return undefined
  return { cache: Number(match[1]), peers: Number(match[2]), registry: Number(match[3]) }
}

export interface ConformanceInit {
  /** The fixture registries; without them every case must bring its own `npmrc`. */
  registries?: FixtureRegistries
  /**
   * The command that stands for ipfs-npm; default `node bin/ipfs-npm.js`. The harness's own
   * tests put `['npm']` here to show that npm against npm conforms.
   */
  ipfsNpmCommand?: string[]
}

/** Conformance runs against `registries`, with temp dirs under one root per instance. */
export function createConformance (init: ConformanceInit): Conformance {
  const [ipfsNpmExe, ...ipfsNpmArgs] = init.ipfsNpmCommand ?? [process.execPath, ipfsNpmBin]
  const roots: string[] = []
  let counter = 0

  const run = async (testCase: ConformanceCase): Promise<ConformanceResult> => {
    const root = await tempDir(`conformance-${counter++}`)
    roots.push(root)
    const source = isAbsolute(testCase.project) ? testCase.project : join(fixtureProjectsDir, testCase.project)
    // Both copies share the project folder's name: npm names an unnamed root after it.
    const name = basename(source)
    const userconfig = join(root, 'npmrc')
    await writeFile(userconfig, userconfigText(testCase, init.registries))

    const base = join(root, 'base', name)
    await cp(source, base, { recursive: true, verbatimSymlinks: true })
    // What the user did before runs with a working config, even when the case's is broken.
    const prepareUserconfig = init.registries === undefined ? userconfig : join(root, 'npmrc-prepare')
    if (init.registries !== undefined) await writeFile(prepareUserconfig, init.registries.npmrc())
    const context: PrepareContext = {
      registries: init.registries,
      userconfig,
      npm: (args, cwd) => runCommand('npm', [...args, '--userconfig', prepareUserconfig, '--cache', join(root, 'prepare-cache')], { cwd, env: testCase.env }),
    }
    await testCase.prepare?.(base, context)
    const before = await snapshotTree(base)

    const runTool = async (tool: Tool): Promise<ToolRun> => {
      const dir = join(root, tool, name)
      const cache = join(root, tool, 'cache')
      await mkdir(join(root, tool), { recursive: true })
      await cp(base, dir, { recursive: true, verbatimSymlinks: true })
      const args = [...testCase.args, '--userconfig', userconfig, '--cache', cache]
      const [command, argv] = tool === 'npm' ? ['npm', args] : [ipfsNpmExe!, [...ipfsNpmArgs, ...args]]
      const result = await runCommand(command, argv, { cwd: join(dir, testCase.cwd ?? ''), env: testCase.env, timeoutMs: testCase.timeoutMs })
      return { ...result, tool, dir, cache, tree: await snapshotTree(dir) }
    }
    const [npm, ipfsNpm] = await Promise.all([runTool('npm'), runTool('ipfs-npm')])
    return { before, userconfig, npm, ipfsNpm, differences: await compareRuns(npm, ipfsNpm) }
  }

  return {
    run,
    cleanup: async () => {
      await Promise.all(roots.splice(0).map(r => rm(r, { recursive: true, force: true })))
    },
  }
}

function userconfigText (testCase: ConformanceCase, registries: FixtureRegistries | undefined): string {
  if (typeof testCase.npmrc === 'function') return testCase.npmrc(registries)
  if (testCase.npmrc !== undefined) return testCase.npmrc
  if (registries === undefined) throw new Error('a conformance case without fixture registries needs its own npmrc')
  return registries.npmrc(testCase.userconfig)
}

/** Every difference between the two runs, most telling first. */
async function compareRuns (npm: ToolRun, ipfsNpm: ToolRun): Promise<string[]> {
  const differences: string[] = []
  if (npm.code !== ipfsNpm.code) differences.push(`exit code: ${npm.code} (npm) vs ${ipfsNpm.code} (ipfs-npm)`)
  for (const stream of ['stdout', 'stderr'] as const) {
    const a = normaliseOutput(npm, stream)
    const b = normaliseOutput(ipfsNpm, stream)
    if (a !== b) differences.push(`${stream} differs:\n${lineDiff(a, b)}`)
  }
  const treeLines = diffTrees(npm.tree, ipfsNpm.tree, ['npm', 'ipfs-npm'])
  differences.push(...treeLines)
  // For the files users read, show how they differ, not only that they do.
  for (const file of ['package.json', 'package-lock.json']) {
    if (!treeLines.some(line => line.startsWith(`${file}: `))) continue
    const [a, b] = await Promise.all([npm, ipfsNpm].map(run => readFile(join(run.dir, file), 'utf8')))
    differences.push(`${file} differs:\n${lineDiff(a!, b!)}`)
  }
  return differences
}

/**
 * A run's output with what legitimately differs between two runs made uniform: timings, its own
 * project and cache paths, log file names, the order of deprecation warnings; ipfs-npm's origins
 * line is dropped (it is npm's output plus that line).
 */
export function normaliseOutput (run: ToolRun, stream: 'stdout' | 'stderr'): string {
  const lines = run[stream]
    .split(run.cache).join('<cache>')
    .split(run.dir).join('<project>')
    .replace(/_logs\/[^\s]+-debug-\d+\.log/g, '_logs/<log>')
    .replace(/\bin \d+(\.\d+)?(ms|s|m)\b/g, 'in <time>')
    .split('\n')
    .filter(line => !originsPattern.test(line))
  return sortRuns(lines, line => line.startsWith('npm warn deprecated ')).join('\n')
}

/**
 * Each run of consecutive lines that `inRun` picks, sorted. Arborist warns about a deprecated
 * package when its extraction ends, so npm's own order changes from run to run; what stays is
 * which warnings, and how many of each (one per node that is deprecated).
 */
function sortRuns (lines: string[], inRun: (line: string) => boolean): string[] {
  const out: string[] = []
  let run: string[] = []
  for (const line of [...lines, '']) {
    if (inRun(line)) {
      run.push(line)
      continue
    }
    out.push(...run.sort(), line)
    run = []
  }
  return out.slice(0, -1)
}

/**
 * A unified line diff (`-` npm, `+` ipfs-npm) of every hunk, with two lines of context, so one
 * look shows all the ways two outputs or lockfiles differ.
 */
export function lineDiff (a: string, b: string): string {
  const x = a.split('\n')
  const y = b.split('\n')
  // Longest common subsequence table, from the ends; outputs and lockfiles here are small.
  const common: number[][] = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0))
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--) {
      common[i]![j] = x[i] === y[j] ? common[i + 1]![j + 1]! + 1 : Math.max(common[i + 1]![j]!, common[i]![j + 1]!)
    }
  }
  const ops: Array<{ mark: ' ' | '-' | '+', line: string }> = []
  let i = 0
  let j = 0
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      ops.push({ mark: ' ', line: x[i++]! })
      j++
    } else if (i < x.length && (j === y.length || common[i + 1]![j]! >= common[i]![j + 1]!)) {
      ops.push({ mark: '-', line: x[i++]! })
    } else {
      ops.push({ mark: '+', line: y[j++]! })
    }
  }
  const near = (k: number): boolean => ops.slice(Math.max(0, k - 2), k + 3).some(op => op.mark !== ' ')
  const lines: string[] = ['  (- npm, + ipfs-npm)']
  let skipped = false
  ops.forEach((op, k) => {
    if (near(k)) {
      if (skipped) lines.push('  ...')
      lines.push(`  ${op.mark} ${op.line}`)
      skipped = false
    } else {
      skipped = true
    }
  })
  return lines.join('\n')
}

/** Fills every registry package of the project's lockfile with its `resolved` URL (after `version`, where npm puts it). */
export async function addResolvedUrls (dir: string, registries: FixtureRegistries | undefined): Promise<void> {
  if (registries === undefined) throw new Error('addResolvedUrls needs the fixture registries')
  const path = join(dir, 'package-lock.json')
  const lock = JSON.parse(await readFile(path, 'utf8')) as { packages: Record<string, Record<string, unknown>> }
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key.includes('node_modules/') || entry.link === true || entry.inBundle === true || entry.integrity === undefined) continue
    const name = typeof entry.name === 'string' ? entry.name : key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length)
    const registry = name.startsWith(`${privateScope}/`) ? registries.scoped : registries.main
    const resolved = registry.tarballUrl(name, String(entry.version))
    lock.packages[key] = Object.fromEntries(Object.entries(entry).flatMap(([k, v]) =>
      k === 'version' ? [[k, v], ['resolved', resolved]] : k === 'resolved' ? [] : [[k, v]]))
  }
  await writeFile(path, `${JSON.stringify(lock, null, 2)}\n`)
}

/** Readable failure text for a result: the differences and both runs' raw output. */
export function describeResult (result: ConformanceResult): string {
  const output = (run: ToolRun): string =>
    `--- ${run.tool} exit ${run.code} in ${run.ms} ms\n[stdout]\n${run.stdout.trimEnd()}\n[stderr]\n${run.stderr.trimEnd()}`
  return [
    `${result.differences.length} difference(s) between npm and ipfs-npm:`,
    ...result.differences.map(d => `  - ${d}`),
    output(result.npm),
    output(result.ipfsNpm),
  ].join('\n')
}

/**
 * The fixture registries and a conformance harness over them, for the test file that calls it:
 * started before its tests, stopped after them.
 */
export function conformanceOverFixtureRegistries (): { readonly registries: FixtureRegistries, readonly conformance: Conformance } {
  let registries: FixtureRegistries | undefined
  let conformance: Conformance | undefined
  before(async () => {
    registries = await startFixtureRegistries()
    conformance = createConformance({ registries })
  })
  after(async () => {
    await conformance?.cleanup()
    await registries?.stop()
  })
  return {
    get registries () { return registries! },
    get conformance () { return conformance! },
  }
}
