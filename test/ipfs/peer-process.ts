/**
 * An IPFS node in its own process, for tests that kill a peer or run it in a network namespace.
 * argv[2]: JSON `{ cacheDir, options, fetch?: TarballRef[], minPeers?, reportServed? }`.
 * Prints JSON lines: `{ info }` once started, `{ served }` every 20 ms if asked, and for `fetch`
 * (after `minPeers` peers connected) `{ fetched: [{ name, bytes }], ms }`, then, stopped, `{ stopped }`
 * (the resources still keeping the event loop alive) before exiting.
 * Without `fetch` it serves until SIGTERM.
 */
import { createIpfsNode } from '../../src/ipfs/index.ts'
import type { TarballRef } from '../../src/types.ts'
import { matchesIntegrity } from '../../src/integrity.ts'

const config = JSON.parse(process.argv[2] ?? '{}') as { cacheDir: string, options: any, fetch?: TarballRef[], minPeers?: number, reportServed?: boolean }
const log = process.env.IPFS_NPM_TEST_LOG === undefined ? undefined : (msg: string) => { process.stderr.write(`[peer ${process.pid}] ${msg}\n`) }
const node = await createIpfsNode({ cacheDir: config.cacheDir, options: config.options, log })
const print = (value: object): void => { process.stdout.write(JSON.stringify(value) + '\n') }
print({ info: node.info() })
if (config.reportServed === true) setInterval(() => print({ served: node.info().served }), 20).unref()

if (config.fetch !== undefined) {
  const deadline = Date.now() + 15_000
  while (node.info().peers.length < (config.minPeers ?? 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  print({ connected: node.info().peers })
  const start = Date.now()
  const results = await Promise.all(config.fetch.map(async (ref) => {
    const data = await node.peers.fetch(ref)
    return { name: ref.name, bytes: data?.byteLength ?? 0, verified: data !== undefined && matchesIntegrity(data, ref.integrity) }
  }))
  print({ fetched: results, ms: Date.now() - start })
  await node.stop()
  // what would still keep the process alive (stdout's own pipe aside): nothing, if stop() is whole
  print({ stopped: process.getActiveResourcesInfo() })
} else {
  process.once('SIGTERM', () => { void node.stop().then(() => process.exit(0)) })
}
