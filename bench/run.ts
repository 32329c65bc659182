/**
 * `npm run bench`: where ipfs-npm stands against npm, pnpm and bun, in one run on one machine.
 * See bench/README.md for what is measured and how.
 *
 *   node bench/run.ts [--runs 3] [--projects small,large,monorepo] [--scenarios id,…] [--no-wan] [--no-profile] [--keep]
 */
import { execFile } from 'node:child_process'
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, freemem, loadavg, totalmem, release, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { runCommand } from '../test/helpers/run-command.ts'
import { renderProfile, summarizeProfiles } from './lib/cpu-profile.ts'
import { readLockTarballs, writeLockWithResolved } from './lib/lockfile.ts'
import { measure, type RunResult } from './lib/measure.ts'
import { fillMirror, type MirrorContents } from './lib/mirror-fill.ts'
import { startWan, type Wan } from './lib/network.ts'
import { startPeer, type Peer } from './lib/peers.ts'
import { cpuRatio, medianRss, ratio, renderReport, type ScenarioResult, type TargetCheck } from './lib/report.ts'
import { startService, type Service } from './lib/service.ts'
import { summarize } from './lib/stats.ts'
import { measureTransfer, renderTransfer, type TransferResults } from './lib/transfer.ts'
import { createTrash, type Trash } from './lib/trash.ts'
import { installCommand, toolEnv, writePnpmrc, writeUserconfig, type InstallSpec, type Toolchain } from './lib/tools.ts'

const run = promisify(execFile)
const benchDir = dirname(fileURLToPath(import.meta.url))
const repo = resolve(benchDir, '..')
const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    projects: { type: 'string', default: 'small,large,monorepo' },
    scenarios: { type: 'string', default: '' },
    wan: { type: 'boolean', default: true },
    keep: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: true },
  },
  allowNegative: true,
})
const RUNS = Math.max(1, Number(opts.runs))
/** Scenario ids to run (`--scenarios ipfs-warm,npm-prefer-offline`); empty: all. */
const ONLY = new Set(opts.scenarios.split(',').filter(Boolean))
const wanted = (id: string): boolean => ONLY.size === 0 || ONLY.has(id)
/** LAN peers to start: three when the 3-peer scenario runs, else one when a peer scenario does. */
const PEERS_WANTED = wanted('ipfs-3peers') ? 3 : ['ipfs-1peer', 'wan-ipfs-1peer'].some(wanted) ? 1 : 0
/** Scratch space and the kept registry mirror: outside the repo, where tsc and git never look. */
const WORK = process.env.IPFS_NPM_BENCH_WORK ?? join(tmpdir(), 'ipfs-npm-bench')
const PASSTHROUGH_RUNS = 10
/** A run taking longer is killed and counted as failed (an install must never hang). */
const RUN_TIMEOUT_MS = 120_000
const WAN_MBIT = 20
const WAN_RTT_MS = 80
/**
 * Settings a project needs on this machine, for every tool: the monorepo's dependencies include
 * one whose install script clones Node.js from a git host, which is unreachable here.
 */
const PROJECT_SETTINGS: Record<string, string[]> = {
  monorepo: ['ignore-scripts=true'],
}
const PROJECTS: Record<string, string> = {
  small: resolve(repo, '../shared/fixtures/small'),
  large: join(benchDir, 'projects/large'),
  monorepo: resolve(repo, '../shared/fixtures/monorepo'),
}

const started = performance.now()
const say = (msg: string): void => {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`)
}

interface Scenario {
  id: string
  label: string
  baseline: string
  /** Cache (and pnpm store) emptied before every run. */
  cold: boolean
  /** node_modules kept from the scenario's previous run (re-installs), instead of removed. */
  keepTree?: boolean
  spec: InstallSpec
}

/** Runs a preparation step (not timed); throws with its output when it fails. */
async function untimed (what: string, command: string, args: string[], cwd: string, env: Record<string, string>): Promise<string> {
  const res = await runCommand(command, args, { cwd, env, timeoutMs: 600_000 })
  if (res.code !== 0) throw new Error(`${what} failed (exit ${res.code}): ${`${res.stdout}\n${res.stderr}`.trim().split('\n').slice(-6).join(' / ')}`)
  return res.stdout
}

/** The project's files (its workspaces' folders too), without any node_modules or lockfile. */
async function copyProject (from: string, to: string, lockfiles: string[] = []): Promise<string> {
  const skip = /(^|\/)(node_modules|package-lock\.json|pnpm-lock\.yaml|bun\.lockb?)$/
  await cp(from, to, { recursive: true, filter: (path) => !skip.test(path.slice(from.length)) })
  for (const f of lockfiles) await cp(join(from, f), join(to, f))
  return to
}

/** A project directory for npm or ipfs-npm: its files, and the lockfile with `resolved` URLs on `registry`. */
async function npmProject (src: string, to: string, registry: string, mirror: MirrorContents): Promise<string> {
  await copyProject(src, to)
  await writeLockWithResolved(join(src, 'package-lock.json'), join(to, 'package-lock.json'), registry, mirror.paths)
  return to
}

async function findTools (): Promise<{ tools: Toolchain, notes: string[] }> {
  const notes: string[] = []
  const npm = (await run('sh', ['-c', 'command -v npm'])).stdout.trim()
  let bun: string | undefined = join(repo, 'node_modules/.bin/bun')
  try {
    await run(bun, ['--version'])
  } catch (err) {
    notes.push(`bun skipped: node_modules/.bin/bun does not run here (${(err as Error).message.split('\n')[0]})`)
    bun = undefined
  }
  return { tools: { node: process.execPath, npm, ipfsNpm: join(repo, 'bin/ipfs-npm.js'), pnpm: join(repo, 'node_modules/.bin/pnpm'), bun }, notes }
}

async function versionOf (command: string, args: string[]): Promise<string> {
  try {
    return (await run(command, args, { env: toolEnv('/nonexistent') })).stdout.trim().split('\n')[0]
  } catch {
    return 'unavailable'
  }
}

interface Registries {
  /** The loopback mirror. */
  lo: string
  /** The mirror behind the shaped link, when the WAN could be set up. */
  wan?: string
}

interface ProjectRun {
  scenarios: Scenario[]
  peers: Peer[]
}

/** Everything a project's timed runs need, prepared untimed: lockfiles for pnpm/bun, warm caches, peers. */
async function setupProject (name: string, src: string, root: string, tools: Toolchain, registries: Registries, mirror: MirrorContents, notes: string[]): Promise<ProjectRun> {
  const home = join(root, 'home')
  await mkdir(home, { recursive: true })
  const env = toolEnv(home)
  const settings = PROJECT_SETTINGS[name] ?? []
  const uc = {
    lo: await writeUserconfig(join(root, 'npmrc-lo'), registries.lo, settings),
    dead: await writeUserconfig(join(root, 'npmrc-dead'), 'http://127.0.0.1:9/', settings),
    wan: registries.wan === undefined ? undefined : await writeUserconfig(join(root, 'npmrc-wan'), registries.wan, settings),
  }

  // the other tools' lockfiles, converted once; bun's records tarball URLs, rewritten per registry
  const converted = new Map<string, string>()
  if (['pnpm-cold', 'wan-pnpm-cold'].some(wanted)) try {
    const pnpmDir = await npmProject(src, join(root, 'convert-pnpm'), registries.lo, mirror)
    await writePnpmrc(pnpmDir, { registry: registries.lo, store: join(root, 'convert-store'), cache: join(root, 'convert-cache'), extra: settings })
    await untimed('pnpm import', tools.pnpm, ['import'], pnpmDir, env)
    converted.set('pnpm-lo', pnpmDir)
    converted.set('pnpm-wan', pnpmDir)
  } catch (err) {
    notes.push(`${name}: pnpm scenarios skipped: ${(err as Error).message.split('\n')[0]}`)
  }
  if (tools.bun !== undefined && ['bun-cold', 'wan-bun-cold'].some(wanted)) {
    try {
      const bunDir = await npmProject(src, join(root, 'convert-lo-bun'), registries.lo, mirror)
      await untimed('bun pm migrate', tools.bun, ['pm', 'migrate', '--registry', registries.lo], bunDir, env)
      converted.set('bun-lo', bunDir)
      if (registries.wan !== undefined) {
        const wanDir = await copyProject(src, join(root, 'convert-wan-bun'))
        await writeFile(join(wanDir, 'bun.lock'), (await readFile(join(bunDir, 'bun.lock'), 'utf8')).replaceAll(registries.lo, registries.wan))
        converted.set('bun-wan', wanDir)
      }
    } catch (err) {
      notes.push(`${name}: bun scenarios skipped: ${(err as Error).message.split('\n')[0]}`)
    }
  }

  const scenarios: Scenario[] = []
  const add = async (id: string, label: string, baseline: string, cold: boolean, spec: Omit<InstallSpec, 'cwd' | 'home' | 'cache' | 'store'> & { cache?: string, keepTree?: boolean }, lockFrom?: string): Promise<void> => {
    if (!wanted(id)) return
    const cwd = lockFrom === undefined
      ? await npmProject(src, join(root, id), spec.registry, mirror)
      : await copyProject(lockFrom, join(root, id), [spec.tool === 'pnpm' ? 'pnpm-lock.yaml' : 'bun.lock'])
    const full: InstallSpec = { ...spec, cwd, home, cache: spec.cache ?? join(root, `cache-${id}`), store: join(root, `store-${id}`), ignoreScripts: settings.includes('ignore-scripts=true') }
    if (spec.tool === 'pnpm') await writePnpmrc(cwd, { ...full, extra: settings })
    scenarios.push({ id, label, baseline, cold, keepTree: spec.keepTree, spec: full })
  }

  // warm caches, filled the way each tool fills its own
  const npmWarm = join(root, 'cache-npm-warm')
  const ipfsWarm = join(root, 'cache-ipfs-warm')
  say(`${name}: warming caches (untimed)`)
  const warmDir = await npmProject(src, join(root, 'warm'), registries.lo, mirror)
  await untimed('npm ci (warming)', tools.npm, ['ci', '--userconfig', uc.lo, '--cache', npmWarm], warmDir, env)
  await untimed('ipfs-npm ci (warming)', tools.node, [tools.ipfsNpm, 'ci', '--no-mdns', '--userconfig', uc.lo, '--cache', ipfsWarm], warmDir, env)

  // LAN peers (three when the 3-peer scenario runs), each with its own copy of npm's warm cache; an
  // idle `serve` uses no CPU (measured), this only saves setting up peers nobody asks
  const peers: Peer[] = []
  try {
    for (let i = 0; i < PEERS_WANTED; i++) {
      const cache = join(root, `peer-${i}`, 'cache')
      await cp(npmWarm, cache, { recursive: true })
      peers.push(await startPeer({ tools, cache, userconfig: uc.lo, home, cwd: join(root, `peer-${i}`) }))
    }
  } catch (err) {
    say(`${name}: peers unavailable: ${(err as Error).message.split('\n')[0]}`)
  }
  const onePeer = peers.slice(0, 1).map((p) => p.address)
  const threePeers = peers.map((p) => p.address)

  const lo = registries.lo
  await add('npm-cold', '1. npm ci, cold', 'npm-cold', true, { tool: 'npm', userconfig: uc.lo, registry: lo })
  await add('npm-prefer-offline', '2. npm ci --prefer-offline, warm', 'npm-cold', false, { tool: 'npm', userconfig: uc.lo, registry: lo, cache: npmWarm, npmFlags: ['--prefer-offline'] })
  await add('npm-offline', '3. npm ci --offline, warm', 'npm-cold', false, { tool: 'npm', userconfig: uc.lo, registry: lo, cache: npmWarm, npmFlags: ['--offline'] })
  await add('ipfs-cold', '4. ipfs-npm ci, cold, no peers', 'npm-cold', true, { tool: 'ipfs-npm', userconfig: uc.lo, registry: lo })
  await add('ipfs-warm', '5. ipfs-npm ci, warm', 'npm-cold', false, { tool: 'ipfs-npm', userconfig: uc.lo, registry: lo, cache: ipfsWarm })
  await add('ipfs-warm-1worker', '5a. ipfs-npm ci, warm, --extract-workers 1', 'npm-cold', false, { tool: 'ipfs-npm', userconfig: uc.lo, registry: lo, cache: ipfsWarm, npmFlags: ['--extract-workers', '1'] })
  await add('npm-again', '2r. npm ci --prefer-offline, warm, over the existing node_modules', 'npm-cold', false, { tool: 'npm', userconfig: uc.lo, registry: lo, cache: npmWarm, npmFlags: ['--prefer-offline'], keepTree: true })
  await add('ipfs-again', '5r. ipfs-npm ci, warm, over the existing node_modules', 'npm-cold', false, { tool: 'ipfs-npm', userconfig: uc.lo, registry: lo, cache: ipfsWarm, keepTree: true })
  if (peers.length >= 1) await add('ipfs-1peer', '6. ipfs-npm ci, empty cache, 1 LAN peer, registry unreachable', 'npm-cold', true, { tool: 'ipfs-npm', userconfig: uc.dead, registry: 'http://127.0.0.1:9/', peers: onePeer })
  if (peers.length === 3) await add('ipfs-3peers', '7. ipfs-npm ci, empty cache, 3 LAN peers, registry unreachable', 'npm-cold', true, { tool: 'ipfs-npm', userconfig: uc.dead, registry: 'http://127.0.0.1:9/', peers: threePeers })
  if (converted.has('pnpm-lo')) await add('pnpm-cold', '8. pnpm install --frozen-lockfile, cold', 'npm-cold', true, { tool: 'pnpm', userconfig: uc.lo, registry: lo }, converted.get('pnpm-lo'))
  if (converted.has('bun-lo')) await add('bun-cold', '9. bun install --frozen-lockfile, cold', 'npm-cold', true, { tool: 'bun', userconfig: uc.lo, registry: lo }, converted.get('bun-lo'))
  // the WAN is about bandwidth and round trips: the large project shows it (and keeps the run short)
  if (registries.wan !== undefined && uc.wan !== undefined && (name === 'large' || !opts.projects.includes('large'))) {
    const wan = registries.wan
    const w = `WAN ${WAN_MBIT} Mbit/s ${WAN_RTT_MS} ms`
    await add('wan-npm-cold', `W1. npm ci, cold, ${w} registry`, 'wan-npm-cold', true, { tool: 'npm', userconfig: uc.wan, registry: wan })
    await add('wan-ipfs-cold', `W4. ipfs-npm ci, cold, no peers, ${w} registry`, 'wan-npm-cold', true, { tool: 'ipfs-npm', userconfig: uc.wan, registry: wan })
    if (peers.length >= 1) await add('wan-ipfs-1peer', `W6. ipfs-npm ci, empty cache, 1 LAN peer + ${w} registry`, 'wan-npm-cold', true, { tool: 'ipfs-npm', userconfig: uc.wan, registry: wan, peers: onePeer })
    if (converted.has('pnpm-wan')) await add('wan-pnpm-cold', `W8. pnpm install --frozen-lockfile, cold, ${w} registry`, 'wan-npm-cold', true, { tool: 'pnpm', userconfig: uc.wan, registry: wan }, converted.get('pnpm-wan'))
    if (converted.has('bun-wan')) await add('wan-bun-cold', `W9. bun install --frozen-lockfile, cold, ${w} registry`, 'wan-npm-cold', true, { tool: 'bun', userconfig: uc.wan, registry: wan }, converted.get('bun-wan'))
  }
  return { scenarios, peers }
}

/** Clears what a run must not find (moved to the trash: see bench/lib/trash.ts), then lets the filesystem settle. */
async function prepareRun (s: Scenario, trash: Trash): Promise<void> {
  if (!s.keepTree) await trash.discard(join(s.spec.cwd, 'node_modules'))
  if (s.cold) {
    await trash.discard(s.spec.cache)
    await trash.discard(s.spec.store)
  }
  await trash.settle()
}

/** A timed run over an existing node_modules deleted it (as npm ci does): the next run waits. */
async function measureRun (s: Scenario, tools: Toolchain, timeFile: string, trash: Trash, env: Record<string, string> = {}): Promise<RunResult> {
  const inv = installCommand(tools, s.spec)
  try {
    return await measure({ ...inv, env: { ...inv.env, ...env } }, timeFile, RUN_TIMEOUT_MS)
  } finally {
    if (s.keepTree === true) trash.deleted()
  }
}

/**
 * Why an ipfs-npm run failed, from npm's debug log in its cache: which tarballs the peers did not
 * deliver (and why) before the registry was tried.
 */
async function peerMisses (cache: string): Promise<string> {
  const logs = join(cache, '_logs')
  const files = (await readdir(logs).catch(() => [] as string[])).filter((f) => f.endsWith('.log')).sort()
  if (files.length === 0) return ''
  const text = await readFile(join(logs, files[files.length - 1]), 'utf8')
  const misses = text.split('\n').filter((l) => l.includes('not from peers'))
  if (misses.length === 0) return ''
  const first = misses[0].replace(/^\d+ verbose ipfs ipfs: /, '')
  return `debug log: ${misses.length} tarballs not from peers, e.g. "${first}"`
}

/** Alternating rounds: every scenario once per round, in the same order. */
async function runRounds (project: string, scenarios: Scenario[], tools: Toolchain, scratch: string, trash: Trash): Promise<ScenarioResult[]> {
  const results = scenarios.map((s): ScenarioResult => ({ project, id: s.id, label: s.label, baseline: s.baseline, runs: [] }))
  // one untimed run first of the re-installs (the tree they install over) and of the first scenario
  // to ask each peer (a peer builds its large tarballs' DAGs on the first ask; a long-running serve
  // has them): the WAN peer scenario too when it is the only one
  const warmed = new Set<string>()
  const warmUp = scenarios.filter((x) => {
    const fresh = (x.spec.peers ?? []).filter((peer) => !warmed.has(peer))
    for (const peer of fresh) warmed.add(peer)
    return fresh.length > 0 || x.keepTree === true
  })
  for (const s of warmUp) {
    await prepareRun(s, trash)
    const r = await measureRun(s, tools, join(scratch, 'time.txt'), trash)
    say(`${project}: warm-up ${s.id}: ${r.code === 0 ? `${(r.ms / 1000).toFixed(1)} s` : `exit ${r.code}`}`)
  }
  for (let round = 1; round <= RUNS; round++) {
    for (const [i, s] of scenarios.entries()) {
      const result = results[i]
      if (result.runs.some((r) => r.code !== 0)) continue
      await prepareRun(s, trash)
      let r: RunResult
      try {
        r = await measureRun(s, tools, join(scratch, 'time.txt'), trash)
      } catch (err) {
        result.error = (err as Error).message
        continue
      }
      if (r.code !== 0 && s.spec.tool === 'ipfs-npm') r.tail += `\n${await peerMisses(s.spec.cache)}`
      result.runs.push(r)
      say(`${project} round ${round}/${RUNS} ${s.id}: ${r.code === 0 ? `${(r.ms / 1000).toFixed(2)} s, ${((r.rssKb ?? 0) / 1024).toFixed(0)} MiB, CPU ${((r.cpuMs ?? 0) / 1000).toFixed(2)} s (user ${((r.userMs ?? 0) / 1000).toFixed(2)}, sys ${((r.systemMs ?? 0) / 1000).toFixed(2)}), load ${(r.load ?? 0).toFixed(1)}` : `FAILED exit ${r.code}: ${r.tail.split('\n').slice(-2).join(' / ')}`}`)
    }
  }
  return results
}

/** ipfs-npm scenarios, the baseline each is held to, and the limit of their ratio. */
const RATIO_TARGETS: Array<[string, string, number]> = [
  ['ipfs-warm', 'npm-prefer-offline', 0.5],
  ['ipfs-again', 'npm-again', 0.5],
  ['ipfs-cold', 'npm-cold', 0.7],
  ['ipfs-1peer', 'npm-offline', 0.6],
  ['ipfs-3peers', 'npm-offline', 0.6],
]

/**
 * For every ratio target missed on `project`: one more (untimed) run of both sides under
 * `node --cpu-prof`, summarized, so the report shows where the time went.
 */
async function profileMisses (project: string, scenarios: Scenario[], results: ScenarioResult[], tools: Toolchain, root: string, trash: Trash): Promise<string[]> {
  const lines: string[] = []
  const profiled = new Set<string>()
  for (const [a, b, limit] of RATIO_TARGETS) {
    const r = ratio(results, project, a, b)
    if (r === undefined || r.value <= limit) continue
    for (const id of [a, b]) {
      const s = scenarios.find((x) => x.id === id)
      if (s === undefined || profiled.has(id)) continue
      profiled.add(id)
      const dir = join(root, 'profiles', id)
      await rm(dir, { recursive: true, force: true })
      await prepareRun(s, trash)
      const res = await measureRun(s, tools, join(root, 'time.txt'), trash, { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` })
      say(`${project}: profiled ${id} (${(res.ms / 1000).toFixed(2)} s under the profiler)`)
      try {
        lines.push(...renderProfile(`${project} / ${s.label} (${(res.ms / 1000).toFixed(2)} s wall under the profiler)`, await summarizeProfiles(dir)))
      } catch (err) {
        lines.push(`- ${project} / ${s.label}: no profile (${(err as Error).message.split('\n')[0]})`)
      }
    }
  }
  return lines
}

async function transferOnce (peer: string, lock: string, root: string, tools: Toolchain, i: number, nodeOptions?: string): Promise<{ ms: number, bytes: number, count: number, missing: number }> {
  const cache = join(root, `transfer-cache-${i}`)
  const env = toolEnv(join(root, 'home'), nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions })
  const res = await runCommand(tools.node, [join(benchDir, 'peer-transfer.ts'), '--peer', peer, '--lock', lock, '--cache', cache], { cwd: root, env, timeoutMs: 300_000 })
  await rm(cache, { recursive: true, force: true })
  if (res.code !== 0) throw new Error(`peer-transfer failed (exit ${res.code}): ${res.stderr.trim().split('\n').slice(-3).join(' / ')}`)
  return JSON.parse(res.stdout) as { ms: number, bytes: number, count: number, missing: number }
}

/** Issue 11's targets for the bare transfer (bench/lib/transfer.ts). */
const TRANSFER_MB_S = 100
const TRANSFER_TARBALLS_S = 1000
const TRANSFER_THREE_PEERS = 1.5
/** 80 % of 1 Gbit/s, in MB/s. */
const TRANSFER_LAN_MB_S = 0.8 * 125
const TRANSFER_LAN_VS_LOOPBACK = 1.2
const TRANSFER_FETCHERS = 20
const TRANSFER_SERVING_RSS_MIB = 512

/** The transfer shapes from a warm cache; when one peer misses its target, one more run of both sides under the profiler. */
async function measurePeerTransfer (lock: string, root: string, tools: Toolchain, warmCache: string, profiles: string[]): Promise<TransferResults | string> {
  let results: TransferResults
  const work = join(root, 'transfer')
  try {
    await mkdir(work, { recursive: true })
    results = await measureTransfer({ node: tools.node, ipfsNpm: tools.ipfsNpm, peerTransfer: join(benchDir, 'peer-transfer.ts'), lock, warmCache, work, runs: RUNS, lan: opts.wan, fetchers: TRANSFER_FETCHERS, log: say })
  } catch (err) {
    return (err as Error).message
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  const one = results.shapes[0]
  if (opts.profile && one !== undefined && (one.mbPerS < TRANSFER_MB_S || one.tarballsPerS < TRANSFER_TARBALLS_S)) {
    const dir = join(root, 'profiles', 'transfer')
    const prof = (side: string): string => `--cpu-prof --cpu-prof-dir=${join(dir, side)}`
    const served = await startPeer({ tools, cache: warmCache, userconfig: join(root, 'npmrc-lo'), home: join(root, 'home'), cwd: root, nodeOptions: prof('serving') })
    try {
      // first pass builds the DAGs of the large tarballs; the second is the one profiled
      await transferOnce(served.address, lock, root, tools, 90)
      await rm(join(dir, 'serving'), { recursive: true, force: true })
      const out = await transferOnce(served.address, lock, root, tools, 91, prof('fetching'))
      await served.service.stop()
      const title = (side: string): string => `peer transfer, ${side} side (${out.count} tarballs in ${(out.ms / 1000).toFixed(2)} s under the profiler)`
      profiles.push(...renderProfile(title('fetching'), await summarizeProfiles(join(dir, 'fetching'))))
      profiles.push(...renderProfile(title('serving'), await summarizeProfiles(join(dir, 'serving'))))
    } catch (err) {
      profiles.push(`- peer transfer: no profile (${(err as Error).message.split('\n')[0]})`)
    } finally {
      await served.service.stop()
    }
  }
  return results
}


/** `ipfs-npm --version` against `npm --version`, alternating; the overhead of the median. */
async function measurePassthrough (tools: Toolchain, root: string): Promise<{ ipfs: number, npm: number }> {
  const home = join(root, 'home')
  await mkdir(home, { recursive: true })
  const env = toolEnv(home)
  const ipfs: number[] = []
  const npm: number[] = []
  for (let i = 0; i < PASSTHROUGH_RUNS; i++) {
    ipfs.push((await measure({ command: tools.node, args: [tools.ipfsNpm, '--version'], cwd: root, env }, join(root, 'time.txt'))).ms)
    npm.push((await measure({ command: tools.npm, args: ['--version'], cwd: root, env }, join(root, 'time.txt'))).ms)
  }
  return { ipfs: summarize(ipfs).median, npm: summarize(npm).median }
}

/**
 * What `outdated`/`update`/`view`/`dedupe` cost when they stay npm's (no index named, the registry
 * up): the claim test (two small files, one TCP connection) before npm takes over. `view --help`
 * needs no network of npm's own, so the difference is ours alone.
 */
async function measureReadingPassthrough (tools: Toolchain, root: string, upstream: string): Promise<{ ipfs: number, npm: number }> {
  const home = join(root, 'home')
  await mkdir(home, { recursive: true })
  const env = toolEnv(home)
  const uc = await writeUserconfig(join(root, 'npmrc-upstream'), upstream)
  const ipfs: number[] = []
  const npm: number[] = []
  for (let i = 0; i < PASSTHROUGH_RUNS; i++) {
    ipfs.push((await measure({ command: tools.node, args: [tools.ipfsNpm, 'view', '--help', '--userconfig', uc], cwd: root, env }, join(root, 'time.txt'))).ms)
    npm.push((await measure({ command: tools.npm, args: ['view', '--help', '--userconfig', uc], cwd: root, env }, join(root, 'time.txt'))).ms)
  }
  return { ipfs: summarize(ipfs).median, npm: summarize(npm).median }
}

/** The production install's size: `npm pack` this package, install the tarball with --omit=dev, du. */
async function measureFootprint (tools: Toolchain, root: string, upstream: string): Promise<number> {
  const home = join(root, 'home')
  await mkdir(home, { recursive: true })
  const env = toolEnv(home)
  const uc = await writeUserconfig(join(root, 'npmrc-upstream'), upstream)
  const packDir = join(root, 'pack')
  const target = join(root, 'footprint')
  await mkdir(packDir, { recursive: true })
  await mkdir(target, { recursive: true })
  const packed = await untimed('npm pack', tools.npm, ['pack', '--pack-destination', packDir, '--userconfig', uc, '--cache', join(root, 'cache-pack'), '--loglevel', 'error'], repo, env)
  const tgz = join(packDir, packed.trim().split('\n').pop() ?? '')
  await writeFile(join(target, 'package.json'), '{"name":"footprint","version":"1.0.0","private":true}\n')
  await untimed('npm install --omit=dev', tools.npm, ['install', '--omit=dev', '--ignore-scripts', '--userconfig', uc, '--cache', join(WORK, 'footprint-cache'), '--prefer-offline', tgz], target, env)
  const du = await run('du', ['-sb', join(target, 'node_modules')])
  return Number(du.stdout.split(/\s/)[0])
}

function transferChecks (tr: TransferResults | string | undefined): TargetCheck[] {
  const none = (name: string, limit: string): TargetCheck => ({ name, project: 'large', measured: 'not measured', limit, met: undefined, detail: typeof tr === 'string' ? tr : undefined })
  const shape = (prefix: string) => typeof tr === 'object' ? tr.shapes.find((s) => s.shape.startsWith(prefix)) : undefined
  const missing = (s: { runs: Array<{ missing: number }> }): number => Math.max(...s.runs.map((r) => r.missing))
  const checks: TargetCheck[] = []
  const one = shape('1 peer')
  if (one === undefined) {
    checks.push(none('peer transfer, one peer, loopback', `≥ ${TRANSFER_MB_S} MB/s, ≥ ${TRANSFER_TARBALLS_S} tarballs/s`))
    return checks
  }
  const detail = `median of ${one.runs.length}; ${missing(one)} tarballs missing; CPU per MB: fetcher ${one.fetchingCpuMsPerMb.toFixed(1)} ms, serving peer ${one.servingCpuMsPerMb.toFixed(1)} ms`
  checks.push({ name: 'peer transfer, one peer, loopback: MB/s', project: 'large', measured: one.mbPerS.toFixed(1), limit: `≥ ${TRANSFER_MB_S}`, met: one.mbPerS >= TRANSFER_MB_S && missing(one) === 0, detail })
  checks.push({ name: 'peer transfer, one peer, loopback: tarballs/s', project: 'large', measured: one.tarballsPerS.toFixed(0), limit: `≥ ${TRANSFER_TARBALLS_S}`, met: one.tarballsPerS >= TRANSFER_TARBALLS_S && missing(one) === 0, detail: `median of ${one.runs.length}` })
  const three = shape('3 peers')
  if (three !== undefined) {
    const r = three.mbPerS / one.mbPerS
    checks.push({ name: 'peer transfer: three peers / one peer', project: 'large', measured: r.toFixed(2), limit: `≥ ${TRANSFER_THREE_PEERS}`, met: r >= TRANSFER_THREE_PEERS && missing(three) === 0, detail: `${three.mbPerS.toFixed(1)} vs ${one.mbPerS.toFixed(1)} MB/s; bytes per peer ${three.servedBy.map((b) => (b / 1e6).toFixed(0)).join(' / ')} MB` })
  }
  const lan = shape('LAN')
  if (lan === undefined) {
    checks.push(none('peer transfer, LAN peer (1 Gbit/s)', `≥ ${TRANSFER_LAN_MB_S} MB/s`))
  } else {
    checks.push({ name: 'peer transfer, LAN peer (1 Gbit/s, 0.5 ms)', project: 'large', measured: lan.mbPerS.toFixed(1), limit: `≥ ${TRANSFER_LAN_MB_S} MB/s`, met: lan.mbPerS >= TRANSFER_LAN_MB_S && missing(lan) === 0, detail: `median of ${lan.runs.length}` })
    const r = one.mbPerS / lan.mbPerS
    checks.push({ name: 'peer transfer: LAN peer time / loopback peer time', project: 'large', measured: r.toFixed(2), limit: `≤ ${TRANSFER_LAN_VS_LOOPBACK}`, met: r <= TRANSFER_LAN_VS_LOOPBACK })
  }
  const many = typeof tr === 'object' ? tr.many : undefined
  if (typeof many === 'object') {
    checks.push({ name: `peer transfer: serving peer RSS under ${many.fetchers} fetchers`, project: 'large', measured: `${many.servingPeakRssMiB.toFixed(0)} MiB`, limit: `≤ ${TRANSFER_SERVING_RSS_MIB} MiB`, met: many.servingPeakRssMiB <= TRANSFER_SERVING_RSS_MIB, detail: `${many.servingCpuMsPerMb.toFixed(1)} ms CPU per MB served; ${many.missing} tarballs missing` })
  } else {
    checks.push(none(`peer transfer: serving peer RSS under ${TRANSFER_FETCHERS} fetchers`, `≤ ${TRANSFER_SERVING_RSS_MIB} MiB`))
  }
  return checks
}

function targetChecks (results: ScenarioResult[], projects: string[], extras: { passthrough?: { ipfs: number, npm: number }, readingPassthrough?: { ipfs: number, npm: number }, footprint?: number | string, transfer?: TransferResults | string }): TargetCheck[] {
  const checks: TargetCheck[] = []
  const fmt = (x: number[]): string => `rounds ${x.map((v) => v.toFixed(2)).join(', ')}`
  const ratioCheck = (name: string, project: string, a: string, b: string, limit: number): void => {
    const r = ratio(results, project, a, b)
    const cpu = cpuRatio(results, project, a, b)
    checks.push(r === undefined
      ? { name, project, measured: 'not measured', limit: `≤ ${limit.toFixed(2)}`, met: undefined, detail: `${a} or ${b} has no successful run` }
      : { name, project, measured: r.value.toFixed(2), limit: `≤ ${limit.toFixed(2)}`, met: r.value <= limit, detail: `${fmt(r.rounds)}${cpu === undefined ? '' : `; CPU time ${cpu.toFixed(2)}`}` })
  }
  const limit = (a: string, b: string): number => RATIO_TARGETS.find(([x, y]) => x === a && y === b)![2]
  for (const p of projects) {
    ratioCheck('warm, fresh folder: ipfs-npm ci / npm ci --prefer-offline', p, 'ipfs-warm', 'npm-prefer-offline', limit('ipfs-warm', 'npm-prefer-offline'))
    ratioCheck('warm, over the existing node_modules: ipfs-npm ci / npm ci --prefer-offline', p, 'ipfs-again', 'npm-again', limit('ipfs-again', 'npm-again'))
    ratioCheck('cold, no peers: ipfs-npm ci / npm ci', p, 'ipfs-cold', 'npm-cold', limit('ipfs-cold', 'npm-cold'))
    ratioCheck('LAN peer, empty cache: ipfs-npm ci / npm ci --offline warm', p, 'ipfs-1peer', 'npm-offline', limit('ipfs-1peer', 'npm-offline'))
    ratioCheck('3 LAN peers, empty cache: ipfs-npm ci / npm ci --offline warm', p, 'ipfs-3peers', 'npm-offline', limit('ipfs-3peers', 'npm-offline'))
    const one = ratio(results, p, 'ipfs-warm-1worker', 'npm-prefer-offline')
    checks.push({ name: 'warm, one extraction worker: ipfs-npm ci --extract-workers 1 / npm ci --prefer-offline', project: p, measured: one === undefined ? 'not measured' : one.value.toFixed(2), limit: 'report', met: undefined, detail: one === undefined ? undefined : fmt(one.rounds) })
    const wan = ratio(results, p, 'wan-ipfs-cold', 'wan-npm-cold')
    if (wan !== undefined) checks.push({ name: 'cold, no peers, WAN registry: ipfs-npm ci / npm ci', project: p, measured: wan.value.toFixed(2), limit: '≤ 1.00', met: wan.value <= 1, detail: fmt(wan.rounds) })
    for (const other of ['wan-pnpm-cold', 'wan-bun-cold']) {
      const r = ratio(results, p, 'wan-ipfs-1peer', other)
      const name = `LAN peer + WAN registry: ipfs-npm ci / ${other.includes('pnpm') ? 'pnpm' : 'bun'} cold (WAN)`
      checks.push(r === undefined
        ? { name, project: p, measured: 'not measured', limit: '< 1', met: undefined }
        : { name, project: p, measured: r.value.toFixed(2), limit: '< 1', met: r.value < 1, detail: fmt(r.rounds) })
    }
    for (const [a, b] of [['ipfs-cold', 'npm-cold'], ['ipfs-warm', 'npm-prefer-offline'], ['ipfs-1peer', 'npm-offline']]) {
      const ra = medianRss(results, p, a)
      const rb = medianRss(results, p, b)
      const name = `peak RSS: ${a} − ${b}`
      checks.push(ra === undefined || rb === undefined
        ? { name, project: p, measured: 'not measured', limit: '≤ 100 MiB', met: undefined }
        : { name, project: p, measured: `${(ra - rb).toFixed(0)} MiB`, limit: '≤ 100 MiB', met: ra - rb <= 100, detail: `${ra.toFixed(0)} vs ${rb.toFixed(0)} MiB` })
    }
  }
  const pt = extras.passthrough
  checks.push(pt === undefined
    ? { name: 'passthrough overhead (`--version`)', project: '–', measured: 'not measured', limit: '≤ 50 ms', met: undefined }
    : { name: 'passthrough overhead (`--version`)', project: '–', measured: `${(pt.ipfs - pt.npm).toFixed(0)} ms`, limit: '≤ 50 ms', met: pt.ipfs - pt.npm <= 50, detail: `medians of ${PASSTHROUGH_RUNS}: ipfs-npm ${pt.ipfs.toFixed(0)} ms, npm ${pt.npm.toFixed(0)} ms` })
  const rp = extras.readingPassthrough
  checks.push(rp === undefined
    ? { name: 'registry-reading passthrough overhead (`view --help`, no index)', project: '–', measured: 'not measured', limit: '≤ 50 ms', met: undefined }
    : { name: 'registry-reading passthrough overhead (`view --help`, no index)', project: '–', measured: `${(rp.ipfs - rp.npm).toFixed(0)} ms`, limit: '≤ 50 ms', met: rp.ipfs - rp.npm <= 50, detail: `medians of ${PASSTHROUGH_RUNS}: ipfs-npm ${rp.ipfs.toFixed(0)} ms, npm ${rp.npm.toFixed(0)} ms` })
  const fp = extras.footprint
  checks.push(typeof fp !== 'number'
    ? { name: 'production dependency footprint', project: '–', measured: 'not measured', limit: '≤ 40 MB', met: undefined, detail: fp }
    : { name: 'production dependency footprint', project: '–', measured: `${(fp / 1e6).toFixed(1)} MB`, limit: '≤ 40 MB', met: fp <= 40e6, detail: 'npm pack + npm install --omit=dev, du -sb node_modules' })
  checks.push(...transferChecks(extras.transfer))
  return checks
}

async function main (): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const work = join(WORK, stamp)
  const mirrorDir = join(WORK, 'mirror')
  await mkdir(work, { recursive: true })
  const loadBefore = loadavg()
  const notes: string[] = []
  const services: Service[] = []
  let wan: Wan | undefined
  const peersToStop: Peer[] = []
  const cleanup = async (): Promise<void> => {
    for (const p of peersToStop.splice(0)) await p.service.stop()
    for (const s of services.splice(0)) await s.stop()
    await wan?.stop()
    wan = undefined
  }
  process.once('SIGINT', () => { void cleanup().finally(() => process.exit(130)) })

  try {
    say('building ipfs-npm')
    await untimed('npm run build', process.execPath, ['scripts/build.js'], repo, toolEnv(process.env.HOME ?? '/root'))
    const { tools, notes: toolNotes } = await findTools()
    notes.push(...toolNotes)
    const upstream = (await run(tools.npm, ['config', 'get', 'registry'], { cwd: work })).stdout.trim().replace(/\/?$/, '/')

    const projects = opts.projects.split(',').filter((p) => p in PROJECTS)
    const lockStats = new Map<string, MirrorContents>()
    for (const p of projects) {
      say(`${p}: filling the registry mirror (untimed)`)
      lockStats.set(p, await fillMirror({ dir: mirrorDir, upstream, tarballs: await readLockTarballs(join(PROJECTS[p], 'package-lock.json')), log: say }))
    }
    const mirror = await startService({ command: process.execPath, args: [join(benchDir, 'mirror-server.ts'), '--dir', mirrorDir], ready: /listening (\S+)/ })
    services.push(mirror)
    const registries: Registries = { lo: mirror.match[1] }
    if (opts.wan) {
      try {
        wan = await startWan({ mbit: WAN_MBIT, rttMs: WAN_RTT_MS, mirrorDir, node: process.execPath, benchDir })
        registries.wan = wan.registry
      } catch (err) {
        notes.push(`WAN scenarios skipped: cannot set up the shaped link (${(err as Error).message.split('\n')[0]}); it needs root, ip and tc`)
      }
    }

    const results: ScenarioResult[] = []
    // one for the whole run, emptied after the last timed run (or when the disk runs short)
    const trash = createTrash(join(work, 'trash'))
    let transfer: TransferResults | string = 'the large project or the `transfer` scenario was not run'
    const profiles: string[] = []
    for (const p of projects) {
      const root = join(work, p)
      say(`${p}: setting up`)
      const setup = await setupProject(p, PROJECTS[p], root, tools, registries, lockStats.get(p)!, notes)
      peersToStop.push(...setup.peers)
      if (setup.peers.length < PEERS_WANTED) notes.push(`${p}: only ${setup.peers.length} of ${PEERS_WANTED} peers started (\`ipfs-npm serve\`); the peer scenarios that need them were not run`)
      const projectResults = await runRounds(p, setup.scenarios, tools, root, trash)
      results.push(...projectResults)
      if (opts.profile) profiles.push(...await profileMisses(p, setup.scenarios, projectResults, tools, root, trash))
      for (const peer of setup.peers) {
        await peer.service.stop()
        peersToStop.splice(peersToStop.indexOf(peer), 1)
      }
      if (p === 'large' && wanted('transfer')) {
        say('peer transfer')
        transfer = setup.peers.length === 0 ? 'no peer could be started' : await measurePeerTransfer(join(PROJECTS[p], 'package-lock.json'), root, tools, join(root, 'peer-0', 'cache'), profiles)
      }
    }

    let passthrough: { ipfs: number, npm: number } | undefined
    let readingPassthrough: { ipfs: number, npm: number } | undefined
    if (wanted('passthrough')) {
      say('passthrough')
      passthrough = await measurePassthrough(tools, join(work, 'passthrough'))
      readingPassthrough = await measureReadingPassthrough(tools, join(work, 'reading-passthrough'), upstream)
    }
    let footprint: number | string = 'not run'
    if (wanted('footprint')) {
      say('footprint')
      try {
        footprint = await measureFootprint(tools, join(work, 'footprint'), upstream)
      } catch (err) {
        footprint = (err as Error).message.split('\n')[0]
      }
    }
    await cleanup()
    await trash.empty()

    const commit = (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo })).stdout.trim()
    const dirty = (await run('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repo })).stdout.trim() === '' ? '' : ' (with uncommitted changes)'
    const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string }
    const mib = (b: number): string => (b / 1048576).toFixed(1)
    const facts: Array<[string, string]> = [
      ['date', new Date().toISOString()],
      ['machine', `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM (${(freemem() / 2 ** 30).toFixed(0)} GiB free at the end), Linux ${release()}`],
      ['cores used', `${availableParallelism()} (ipfs-npm's extraction pool: one worker thread per core; scenario 5a limits it to 1)`],
      ['load average', `${loadBefore.map((x) => x.toFixed(1)).join(' ')} before, ${loadavg().map((x) => x.toFixed(1)).join(' ')} after (other processes compete for the 2 cores: compare ratios within a round, not absolute times across runs)`],
      ['versions', `ipfs-npm ${pkg.version} at ${commit}${dirty}; node ${process.version}; npm ${await versionOf(tools.npm, ['--version'])}; pnpm ${await versionOf(tools.pnpm, ['--version'])}; bun ${tools.bun === undefined ? 'unavailable' : await versionOf(tools.bun, ['--version'])}`],
      ['projects', projects.map((p) => { const s = lockStats.get(p); return s === undefined ? p : `${p}: ${s.count} tarballs, ${mib(s.bytes)} MiB, largest ${mib(s.largest)} MiB, ${s.overOneMiB} over 1 MiB` }).join('; ')],
      ['registry', 'a local mirror of the npm registry (bench/mirror-server.ts: abbreviated packuments, gzip, ETags, tarballs; filled once from the npm registry outside timing); scenarios 1–9 reach it on loopback. Lockfiles get `resolved` URLs on the registry each scenario uses (as most real lockfiles have), so no tool needs packuments'],
      ['WAN', registries.wan === undefined ? 'not run' : `the same mirror in a network namespace behind a veth limited to ${WAN_MBIT} Mbit/s each way (tc tbf) and ${WAN_RTT_MS} ms RTT (bench/delay-line.ts; this kernel has no netem); LAN peers on loopback, unshaped; run on the large project`],
      ['runs', `${RUNS} per scenario, alternating rounds (every scenario once per round, same order), after an untimed warm-up of the peer scenarios; every tool gets its own userconfig (registry, audit=false, fund=false), its own cache/store and an empty HOME; ipfs-npm runs with --no-mdns (other nodes on this machine must not join in)`],
      ['total bench time', `${((performance.now() - started) / 60000).toFixed(1)} min`],
    ]
    const report = renderReport({ title: `ipfs-npm bench, ${new Date().toISOString().slice(0, 10)}`, facts, results, targets: targetChecks(results, projects, { passthrough, readingPassthrough, footprint, transfer }), profiles, notes,
      sections: typeof transfer === 'object' ? [['Peer transfer (large project)', ['bench/lib/transfer.ts: every tarball of the lockfile into an empty cache, verified, nothing else; medians of alternating rounds.', '', ...renderTransfer(transfer)]]] : [],
    })
    const out = join(benchDir, 'results', `${new Date().toISOString().slice(0, 10)}.md`)
    await mkdir(dirname(out), { recursive: true })
    await writeFile(out, report)
    process.stdout.write(report)
    say(`written to ${out}`)
  } finally {
    await cleanup()
    if (!opts.keep) await rm(work, { recursive: true, force: true })
  }
}

main().then(() => process.exit(0), (err: Error) => {
  process.stderr.write(`bench: ${err.message}\n`)
  process.exit(1)
})
