/**
 * Load from a second process for the serve load test. argv[2]: JSON
 * `{ url, paths: string[], concurrency, requests }` → GETs `requests` paths round-robin with
 * `concurrency` keep-alive connections, or
 * `{ peers: { address, count, refs: TarballRef[], dir } }` → starts `count` IPFS nodes in this
 * process, each connected to `address`, all fetching every ref at once.
 * Prints one JSON line: `{ ok, errors, p50, p99, max, ms }` (latencies in ms) or `{ peers, fetched, verified, ms }`.
 */
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { createIpfsNode } from '../../src/ipfs/index.ts'
import { matchesIntegrity } from '../../src/integrity.ts'
import type { TarballRef } from '../../src/types.ts'

const config = JSON.parse(process.argv[2] ?? '{}') as {
  url?: string
  paths?: string[]
  concurrency?: number
  requests?: number
  peers?: { address: string, count: number, refs: TarballRef[], dir: string }
}

function get (agent: Agent, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
      res.on('error', reject)
    })
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

const started = Date.now()
if (config.peers !== undefined) {
  const { address, count, refs, dir } = config.peers
  // each node's log, kept to explain a peer that fetched nothing
  const logs: string[][] = Array.from({ length: count }, () => [])
  // The peers get 30 s, handshakes included: they share 2 cores with serve, 10 npm ci, 40 HTTP
  // clients and (in CI) another test file, and what this measures is that serve answers them
  // all, not how soon. At 10 s, one peer's handshake or its silence ran out at load 15-20.
  const nodes = await Promise.all(Array.from({ length: count }, (_, i) => createIpfsNode({
    cacheDir: join(dir, `peer-${i}`),
    options: { peers: [address], listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, bootstrap: [], peerTimeout: 30_000 },
    log: (msg) => logs[i]!.push(`${Date.now() - started} ms ${msg}`),
  })))
  const fetchStart = Date.now()
  const results = await Promise.all(nodes.flatMap((node, i) => refs.map(async (ref) => {
    const data = await node.peers.fetch(ref)
    const ok = data !== undefined && matchesIntegrity(data, ref.integrity)
    if (!ok) process.stderr.write(`peer ${i} (${node.info().peers.length} connected): ${ref.name}@${ref.version} not fetched\n${logs[i]!.splice(0).join('\n')}\n`)
    return ok
  })))
  const ms = Date.now() - fetchStart
  await Promise.all(nodes.map((node) => node.stop()))
  process.stdout.write(JSON.stringify({ peers: count, fetched: results.length, verified: results.filter(Boolean).length, ms }) + '\n')
} else {
  const { url, paths = [], concurrency = 1, requests = 0 } = config
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const latencies: number[] = []
  const statuses: Record<number, number> = {}
  let errors = 0
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests) {
      const path = paths[next++ % paths.length]!
      const t0 = performance.now()
      try {
        const status = await get(agent, `${url}${path}`)
        statuses[status] = (statuses[status] ?? 0) + 1
        if (status !== 200) errors++
      } catch {
        errors++
      }
      latencies.push(performance.now() - t0)
    }
  }))
  latencies.sort((a, b) => a - b)
  const at = (q: number): number => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 10) / 10
  agent.destroy()
  process.stdout.write(JSON.stringify({ ok: latencies.length - errors, errors, statuses, p50: at(0.5), p99: at(0.99), max: at(1), ms: Date.now() - started }) + '\n')
}
process.exit(0)
