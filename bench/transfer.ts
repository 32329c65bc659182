/**
 * The peer-transfer part of the bench on its own (bench/lib/transfer.ts), for working on the
 * transfer without the 15-minute full run. Needs root for the LAN shape (`--no-lan` without).
 *
 *   node bench/transfer.ts [--runs 5] [--no-lan] [--fetchers 20] [--cache WARM_NPM_CACHE] [--repo CHECKOUT] [--label NAME]
 *
 * `--cache`: an npm cache that holds the large project's tarballs (default: one made here with
 * `npm ci` from the configured registry). `--repo`: measure another checkout's build (its
 * `bin/ipfs-npm.js` serves, its `bench/peer-transfer.ts` fetches), e.g. an older commit for a
 * before/after comparison; it must be built (`npm ci`). `--label`: what to call it in the report
 * (default: its commit).
 */
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { measureTransfer, renderTransfer } from './lib/transfer.ts'

const run = promisify(execFile)
const benchDir = dirname(fileURLToPath(import.meta.url))
const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    lan: { type: 'boolean', default: true },
    fetchers: { type: 'string', default: '20' },
    cache: { type: 'string' },
    repo: { type: 'string', default: resolve(benchDir, '..') },
    label: { type: 'string' },
  },
  allowNegative: true,
})
const started = performance.now()
const say = (msg: string): void => {
  process.stderr.write(`[transfer ${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`)
}

const work = await mkdtemp(join(tmpdir(), 'ipfs-npm-transfer-'))
try {
  const lock = join(benchDir, 'projects/large/package-lock.json')
  let warmCache = opts.cache
  if (warmCache === undefined) {
    say('filling a warm npm cache for the large project (npm ci, untimed)')
    const project = join(work, 'project')
    await mkdir(project)
    await cp(join(benchDir, 'projects/large/package.json'), join(project, 'package.json'))
    await cp(lock, join(project, 'package-lock.json'))
    warmCache = join(work, 'warm-cache')
    await run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--cache', warmCache], { cwd: project, maxBuffer: 64 * 1024 * 1024 })
  }
  const repo = resolve(opts.repo)
  const commit = opts.label ?? (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo })).stdout.trim()
  const loadBefore = loadavg()
  const results = await measureTransfer({
    node: process.execPath,
    ipfsNpm: join(repo, 'bin/ipfs-npm.js'),
    peerTransfer: join(repo, 'bench/peer-transfer.ts'),
    lock,
    warmCache,
    work,
    runs: Math.max(1, Number(opts.runs)),
    lan: opts.lan,
    fetchers: Number(opts.fetchers),
    log: say,
  })
  const lines = [
    `## Peer transfer at ${commit}, ${new Date().toISOString()}`,
    '',
    `Load average ${loadBefore.map((x) => x.toFixed(1)).join(' ')} before, ${loadavg().map((x) => x.toFixed(1)).join(' ')} after; ${opts.runs} alternating rounds, medians.`,
    '',
    ...renderTransfer(results),
    '',
  ]
  process.stdout.write(lines.join('\n'))
} finally {
  await rm(work, { recursive: true, force: true })
}
