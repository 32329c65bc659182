/**
 * Peer transfer throughput: a fresh node with an empty cache fetches every tarball of a lockfile
 * from its peers, as the fetch phase does (32 at once where the fetch phase asks 64: the same time
 * within noise, 2026-12-07; a node that does not serve), verified, and nothing else: no plan, no
 * reify, no cache writes. Prints `{ ms, bytes, count, missing, firstMs, cpuMs, sysMs, faults }` as
 * JSON: `firstMs`, when the first tarball arrived (the dial, handshakes and identify are in the
 * timed window, as in an install); this process's CPU time (user + system) and system CPU time
 * during the transfer, and the page faults it took meanwhile (first touches of fresh memory, ~10 µs
 * each on this VM).
 *
 *   node bench/peer-transfer.ts --peer MULTIADDR [--peer MULTIADDR…] --lock package-lock.json --cache EMPTY_DIR [--profile OUT.cpuprofile]
 *
 * `--profile`: a CPU profile of the transfer alone (not of loading and dialling), for
 * bench/lib/cpu-profile.ts.
 */
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { parseArgs } from 'node:util'
import { createIpfsNode } from '../src/ipfs/index.ts'
import { readLockTarballs } from './lib/lockfile.ts'

const { values } = parseArgs({ options: { peer: { type: 'string', multiple: true }, lock: { type: 'string' }, cache: { type: 'string' }, profile: { type: 'string' } } })
if (values.peer === undefined || values.lock === undefined || values.cache === undefined) {
  process.stderr.write('peer-transfer: --peer, --lock and --cache are required\n')
  process.exit(1)
}
const refs = (await readLockTarballs(values.lock)).filter((t) => !t.optional)
const node = await createIpfsNode({
  cacheDir: values.cache,
  options: { peers: values.peer, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, bootstrap: [], peerTimeout: 5000, swarmKey: undefined },
  // as an install's node (without --serve): it asks, it gives nothing, it answers no DHT query,
  // and with no index configured it runs no gossipsub or fetch (pipeline.ts)
  serve: false,
  indexRecords: false,
})
const profiler = values.profile === undefined ? undefined : new Session()
if (profiler !== undefined) {
  profiler.connect()
  await profiler.post('Profiler.enable')
  await profiler.post('Profiler.setSamplingInterval', { interval: 100 })
  await profiler.post('Profiler.start')
}
const started = performance.now()
const cpu = process.cpuUsage()
const faults = process.resourceUsage().minorPageFault
let bytes = 0
let missing = 0
let firstMs: number | undefined
const queue = [...refs]
await Promise.all(Array.from({ length: 32 }, async () => {
  for (let ref = queue.shift(); ref !== undefined; ref = queue.shift()) {
    const data = await node.peers.fetch(ref)
    firstMs ??= performance.now() - started
    if (data === undefined) missing++
    else bytes += data.byteLength
  }
}))
const ms = performance.now() - started
const used = process.cpuUsage(cpu)
const faulted = process.resourceUsage().minorPageFault - faults
if (profiler !== undefined) {
  const { profile } = await profiler.post('Profiler.stop')
  await writeFile(values.profile!, JSON.stringify(profile))
  profiler.disconnect()
}
await node.stop()
process.stdout.write(`${JSON.stringify({ ms, bytes, count: refs.length - missing, missing, firstMs, cpuMs: (used.user + used.system) / 1000, sysMs: used.system / 1000, faults: faulted })}\n`)
process.exit(0)
