/**
 * Peer transfer, the bare exchange under an install (bench/peer-transfer.ts: a fresh node fetches
 * every tarball of a lockfile, verified, nothing else), in four shapes:
 * - `1 peer`: one `ipfs-npm serve` on loopback;
 * - `3 peers`: three of them (each its own hard-linked copy of the same warm cache);
 * - `LAN peer`: one in a network namespace (`transfer-…`), reached over a veth shaped to 1 Gbit/s
 *   each way with `tc tbf` and 0.5 ms of round trip (a delay line: this kernel has no netem);
 * - `20 fetchers`: twenty fetching processes at once (niced: they stand for other machines)
 *   against one loopback peer, whose CPU time and resident memory are read from /proc while they run.
 * The first three alternate, one of each per round. Needs root for the LAN (ip, tc).
 */
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { runCommand } from '../../test/helpers/run-command.ts'
import { startShapedLink, type ShapedLink } from './network.ts'
import { freePort } from './peers.ts'
import { startService, type Service } from './service.ts'
import { summarize } from './stats.ts'
import { toolEnv } from './tools.ts'

const run = promisify(execFile)

export interface TransferInit {
  node: string
  /** bin/ipfs-npm.js of the build under test (the serving peers). */
  ipfsNpm: string
  /** bench/peer-transfer.ts of the same checkout (the fetcher). */
  peerTransfer: string
  lock: string
  /** A warm npm cache holding every tarball of `lock`. */
  warmCache: string
  /** Scratch directory (removed by the caller). */
  work: string
  runs: number
  lan: boolean
  fetchers: number
  log(msg: string): void
}

/**
 * bench/peer-transfer.ts's output; `faults`: the fetcher's page faults during the transfer;
 * `firstMs`: when its first tarball arrived (NaN from a checkout that does not say).
 */
export interface TransferRun { ms: number, bytes: number, count: number, missing: number, firstMs: number, cpuMs: number, faults: number }

export interface ShapeResult {
  shape: string
  runs: TransferRun[]
  /** Median MB/s and tarballs/s. */
  mbPerS: number
  tarballsPerS: number
  /** The serving peers' CPU time per MB served, ms (median over runs; all peers of the shape). */
  servingCpuMsPerMb: number
  /** The fetcher's CPU time per MB, ms (median). */
  fetchingCpuMsPerMb: number
  /** The fetcher's page faults per MB (median): first touches of fresh memory. */
  fetchingFaultsPerMb: number
  /** Median ms from the start to the first tarball: dialling, handshakes and identify. */
  firstTarballMs: number
  /** Bytes served by each peer, summed over the runs (3 peers: the shares). */
  servedBy: number[]
}

export interface ManyFetchers {
  fetchers: number
  ms: number
  bytes: number
  missing: number
  servingCpuMsPerMb: number
  servingPeakRssMiB: number
  servingRssBeforeMiB: number
}

export interface TransferResults {
  shapes: ShapeResult[]
  many?: ManyFetchers | string
  notes: string[]
}

interface Serving {
  address: string
  pid: number
  port: number
  /** In a namespace: the shim's port is not reachable from here. */
  inNamespace: boolean
  service: Service
}

const CLOCK_TICK_MS = 10

/** utime + stime of a process, ms. */
async function cpuMsOf (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS
}

async function rssMiBOf (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}

async function servedBytes (peer: Serving): Promise<number> {
  if (peer.inNamespace) return Number.NaN
  const res = await fetch(`http://127.0.0.1:${peer.port}/-/ipfs-npm/info`)
  return ((await res.json()) as { served: { bytes: number } }).served.bytes
}

async function startServing (init: TransferInit, cache: string, listenIp: string, ns?: string): Promise<Serving> {
  const port = await freePort()
  const home = join(init.work, 'home')
  const userconfig = join(init.work, 'npmrc')
  await mkdir(home, { recursive: true })
  await writeFile(userconfig, 'registry=http://127.0.0.1:9/\naudit=false\nfund=false\nupdate-notifier=false\n')
  const serve = [init.ipfsNpm, 'serve', '--port', String(port), '--listen', `/ip4/${listenIp}/tcp/0`, '--no-mdns', '--userconfig', userconfig, '--cache', cache]
  const service = await startService({
    command: ns === undefined ? init.node : 'ip',
    args: ns === undefined ? serve : ['netns', 'exec', ns, init.node, ...serve],
    cwd: init.work,
    env: toolEnv(home),
    ready: new RegExp(`(/ip4/${listenIp.replaceAll('.', '\\.')}/tcp/\\d+/p2p/\\w+)`),
    timeoutMs: 60_000,
  })
  // `ip netns exec` execs node in place: the pid is the serving node's
  return { address: service.match[1]!, pid: service.child.pid!, port, inNamespace: ns !== undefined, service }
}

let transferCount = 0
/** `niced`: the fetcher runs at the lowest CPU priority (see manyFetchers). */
async function transferOnce (init: TransferInit, peers: string[], niced = false): Promise<TransferRun> {
  const cache = await mkdtemp(join(init.work, `fetch-${transferCount++}-`))
  try {
    const fetch = [init.peerTransfer, ...peers.flatMap((p) => ['--peer', p]), '--lock', init.lock, '--cache', cache]
    const res = await runCommand(niced ? 'nice' : init.node, niced ? ['-n', '19', init.node, ...fetch] : fetch, {
      cwd: init.work,
      env: toolEnv(join(init.work, 'home')),
      timeoutMs: 300_000,
    })
    if (res.code !== 0) throw new Error(`peer-transfer failed (exit ${res.code}): ${res.stderr.trim().split('\n').slice(-3).join(' / ')}`)
    const out = JSON.parse(res.stdout) as TransferRun
    return { ...out, firstMs: out.firstMs ?? Number.NaN, cpuMs: out.cpuMs ?? Number.NaN, faults: out.faults ?? Number.NaN }
  } finally {
    await rm(cache, { recursive: true, force: true })
  }
}

/** The two-host LAN: a namespace behind a veth shaped to 1 Gbit/s each way, plus a 0.5 ms delay line. */
async function startLan (): Promise<ShapedLink> {
  // a burst of 1 MB: at 1 Gbit/s the bucket refills every ms, and GSO hands tbf 64 KB packets
  return startShapedLink({ name: 'transfer-b', ifPrefix: 'trf', subnet: 232, tbf: ['1gbit', 'burst', '1mb', 'latency', '20ms'] })
}

const rate = (r: TransferRun): { mb: number, tb: number } => ({ mb: r.bytes / 1e6 / (r.ms / 1000), tb: r.count / (r.ms / 1000) })

/** Runs every shape, alternating, then the many-fetchers load once. */
export async function measureTransfer (init: TransferInit): Promise<TransferResults> {
  const notes: string[] = []
  const toStop: Array<() => Promise<void>> = []
  const copies: string[] = []
  for (let i = 0; i < 3; i++) {
    const copy = join(init.work, `peer-cache-${i}`)
    // hard links: three caches, one copy of the bytes (serving only reads them)
    await run('cp', ['-al', init.warmCache, copy]).catch(async () => cp(init.warmCache, copy, { recursive: true }))
    // each peer its own identity (the cache's persisted peer key would make three addresses of one peer)
    await rm(join(copy, '_ipfs-npm'), { recursive: true, force: true })
    copies.push(copy)
  }
  try {
    const peers: Serving[] = []
    for (const copy of copies) {
      const peer = await startServing(init, copy, '127.0.0.1')
      toStop.push(async () => peer.service.stop())
      peers.push(peer)
    }
    const shapes: Array<{ shape: string, serving: Serving[] }> = [
      { shape: '1 peer, loopback', serving: [peers[0]!] },
      { shape: '3 peers, loopback', serving: peers },
    ]
    if (init.lan) {
      try {
        const lan = await startLan()
        toStop.push(lan.stop)
        const lanCache = join(init.work, 'peer-cache-lan')
        await run('cp', ['-al', copies[0]!, lanCache])
        const inner = await startServing(init, lanCache, '127.0.0.1', lan.ns)
        toStop.unshift(async () => inner.service.stop())
        const port = Number(/\/tcp\/(\d+)\//.exec(inner.address)![1])
        const delay = await startService({
          command: 'ip',
          args: ['netns', 'exec', lan.ns, init.node, join(init.peerTransfer, '..', 'delay-line.ts'), '--listen', `${lan.nsIp}:${port}`, '--target', `127.0.0.1:${port}`, '--rtt', '0.5'],
          ready: /listening/,
        })
        toStop.unshift(async () => delay.stop())
        shapes.push({ shape: 'LAN peer, 1 Gbit/s, 0.5 ms', serving: [{ ...inner, address: inner.address.replace('/ip4/127.0.0.1/', `/ip4/${lan.nsIp}/`) }] })
      } catch (err) {
        notes.push(`LAN shape skipped: ${(err as Error).message.split('\n')[0]} (needs root, ip and tc)`)
      }
    }
    // warm-up: every peer builds the large tarballs' DAGs on the first ask
    for (const { shape, serving } of shapes) {
      init.log(`peer transfer: warm-up, ${shape}`)
      await transferOnce(init, serving.map((p) => p.address))
    }
    const runs = new Map(shapes.map((s) => [s.shape, [] as Array<TransferRun & { servingCpuMs: number, served: number[] }>]))
    for (let round = 0; round < init.runs; round++) {
      for (const { shape, serving } of shapes) {
        const cpuBefore = await Promise.all(serving.map(async (p) => cpuMsOf(p.pid)))
        const servedBefore = await Promise.all(serving.map(servedBytes))
        const out = await transferOnce(init, serving.map((p) => p.address))
        const cpuAfter = await Promise.all(serving.map(async (p) => cpuMsOf(p.pid)))
        const servedAfter = await Promise.all(serving.map(servedBytes))
        const servingCpuMs = cpuAfter.reduce((a, b, i) => a + b - cpuBefore[i]!, 0)
        runs.get(shape)!.push({ ...out, servingCpuMs, served: servedAfter.map((b, i) => b - servedBefore[i]!) })
        const r = rate(out)
        init.log(`peer transfer, ${shape}, round ${round + 1}: ${out.count} tarballs, ${(out.bytes / 1e6).toFixed(1)} MB in ${(out.ms / 1000).toFixed(2)} s = ${r.mb.toFixed(1)} MB/s, ${r.tb.toFixed(0)} tarballs/s, first after ${out.firstMs.toFixed(0)} ms; fetcher CPU ${out.cpuMs.toFixed(0)} ms, serving CPU ${servingCpuMs} ms, ${out.missing} missing`)
      }
    }
    const results: ShapeResult[] = shapes.map(({ shape, serving }) => {
      const rs = runs.get(shape)!
      return {
        shape,
        runs: rs,
        mbPerS: summarize(rs.map((r) => rate(r).mb)).median,
        tarballsPerS: summarize(rs.map((r) => rate(r).tb)).median,
        servingCpuMsPerMb: summarize(rs.map((r) => r.servingCpuMs / (r.bytes / 1e6))).median,
        fetchingCpuMsPerMb: summarize(rs.map((r) => r.cpuMs / (r.bytes / 1e6))).median,
        fetchingFaultsPerMb: summarize(rs.map((r) => r.faults / (r.bytes / 1e6))).median,
        firstTarballMs: summarize(rs.map((r) => r.firstMs)).median,
        servedBy: serving.map((_, i) => rs.reduce((n, r) => n + (r.served[i] ?? 0), 0)),
      }
    })
    let many: ManyFetchers | string | undefined
    if (init.fetchers > 0) {
      try {
        many = await manyFetchers(init, peers[0]!)
      } catch (err) {
        many = (err as Error).message.split('\n')[0]!
      }
    }
    return { shapes: results, many, notes }
  } finally {
    for (const stop of toStop.reverse()) await stop().catch(() => {})
  }
}

/**
 * `init.fetchers` transfers at once from one peer; its CPU and RSS read from /proc meanwhile. The
 * fetchers stand for other machines: on this one they run niced, or twenty processes would get
 * twenty shares of the two cores and the serving peer one (it got 5.7 s of CPU in 70 s, 8 % of a
 * core, and fetchers gave up on thousands of tarballs after 5 s without a block).
 */
async function manyFetchers (init: TransferInit, peer: Serving): Promise<ManyFetchers> {
  init.log(`peer transfer: ${init.fetchers} fetchers at once from one peer`)
  const rssBefore = await rssMiBOf(peer.pid)
  let peak = rssBefore
  const sampler = setInterval(() => { void rssMiBOf(peer.pid).then((rss) => { peak = Math.max(peak, rss) }, () => {}) }, 100)
  const cpuBefore = await cpuMsOf(peer.pid)
  const started = performance.now()
  try {
    const outs = await Promise.all(Array.from({ length: init.fetchers }, async () => transferOnce(init, [peer.address], true)))
    const ms = performance.now() - started
    const cpu = (await cpuMsOf(peer.pid)) - cpuBefore
    const bytes = outs.reduce((n, o) => n + o.bytes, 0)
    const result = { fetchers: init.fetchers, ms, bytes, missing: outs.reduce((n, o) => n + o.missing, 0), servingCpuMsPerMb: cpu / (bytes / 1e6), servingPeakRssMiB: peak, servingRssBeforeMiB: rssBefore }
    init.log(`peer transfer, ${init.fetchers} fetchers: ${(bytes / 1e6).toFixed(0)} MB in ${(ms / 1000).toFixed(1)} s; serving CPU ${result.servingCpuMsPerMb.toFixed(1)} ms/MB, RSS ${rssBefore.toFixed(0)} → peak ${peak.toFixed(0)} MiB, ${result.missing} missing`)
    return result
  } finally {
    clearInterval(sampler)
  }
}

/**
 * `, N % sent twice`: what the peers served beyond what the fetcher kept (blocks asked again of
 * another peer and delivered by both), when above 1 %; bytes a transfer pays for at both ends.
 */
function sentTwice (s: ShapeResult): string {
  const served = s.servedBy.reduce((n, b) => n + b, 0)
  const fetched = s.runs.reduce((n, r) => n + r.bytes, 0)
  const extra = served / fetched - 1
  return Number.isNaN(extra) || extra < 0.01 ? '' : `, ${(extra * 100).toFixed(0)} % sent twice`
}

/** The results as markdown. */
export function renderTransfer (r: TransferResults): string[] {
  const lines = [
    '| shape | MB/s | tarballs/s | runs (MB/s) | first tarball (ms) | fetcher CPU ms/MB | fetcher page faults/MB | serving CPU ms/MB | bytes served per peer |',
    '| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |',
  ]
  for (const s of r.shapes) {
    lines.push(`| ${s.shape} | ${s.mbPerS.toFixed(1)} | ${s.tarballsPerS.toFixed(0)} | ${s.runs.map((x) => rate(x).mb.toFixed(1)).join(', ')} | ${Number.isNaN(s.firstTarballMs) ? '–' : s.firstTarballMs.toFixed(0)} | ${s.fetchingCpuMsPerMb.toFixed(1)} | ${s.fetchingFaultsPerMb.toFixed(0)} | ${s.servingCpuMsPerMb.toFixed(1)} | ${s.servedBy.map((b) => Number.isNaN(b) ? '–' : `${(b / 1e6).toFixed(0)} MB`).join(' / ')}${sentTwice(s)} |`)
  }
  if (typeof r.many === 'string') lines.push('', `- ${r.many}`)
  else if (r.many !== undefined) {
    const m = r.many
    lines.push('', `- ${m.fetchers} fetchers at once from one loopback peer: ${(m.bytes / 1e6).toFixed(0)} MB in ${(m.ms / 1000).toFixed(1)} s (${(m.bytes / 1e6 / (m.ms / 1000)).toFixed(1)} MB/s in all), ${m.missing} tarballs missing; the serving peer used ${m.servingCpuMsPerMb.toFixed(1)} ms of CPU per MB served and its RSS went from ${m.servingRssBeforeMiB.toFixed(0)} to at most ${m.servingPeakRssMiB.toFixed(0)} MiB`)
  }
  for (const note of r.notes) lines.push(`- ${note}`)
  return lines
}
