/**
 * A TCP delay line: forwards every connection to a target, holding each chunk for half the
 * round-trip time in each direction, and the first bytes for one more round trip (the TCP
 * handshake a real distant server costs). Stands in for `tc netem delay`, which this machine's
 * kernel lacks; the bandwidth limit is `tc tbf` on the veth (lib/network.ts).
 *
 *   node bench/delay-line.ts --listen HOST:PORT --target HOST:PORT --rtt MS
 */
import { connect, createServer, type Socket } from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { listen: { type: 'string' }, target: { type: 'string' }, rtt: { type: 'string' } } })
const split = (hostPort: string | undefined): [string, number] => {
  const m = /^(.+):(\d+)$/.exec(hostPort ?? '')
  if (m === null) {
    process.stderr.write('delay-line: --listen and --target are HOST:PORT\n')
    process.exit(1)
  }
  return [m[1], Number(m[2])]
}
const [listenHost, listenPort] = split(values.listen)
const [targetHost, targetPort] = split(values.target)
const oneWay = Number(values.rtt ?? '80') / 2

/** Forwards `from` to `to` in order, each chunk `oneWay` ms late, none before `firstAt`. */
function pipeDelayed (from: Socket, to: Socket, firstAt: number): void {
  const queue: Array<{ due: number, chunk: Buffer | null }> = []
  let floor = firstAt
  let timer: NodeJS.Timeout | undefined
  const pump = (): void => {
    timer = undefined
    while (queue.length > 0 && queue[0].due <= Date.now()) {
      const { chunk } = queue.shift()!
      if (to.destroyed) return
      if (chunk === null) to.end()
      else to.write(chunk)
    }
    if (queue.length > 0) timer = setTimeout(pump, queue[0].due - Date.now())
  }
  const push = (chunk: Buffer | null): void => {
    floor = Math.max(floor, Date.now() + oneWay)
    queue.push({ due: floor, chunk })
    timer ??= setTimeout(pump, floor - Date.now())
  }
  from.on('data', (chunk: Buffer) => push(chunk))
  from.on('end', () => push(null))
  from.on('error', () => to.destroy())
  from.on('close', () => { if (queue.length === 0) to.destroy() })
}

const server = createServer({ noDelay: true }, (client) => {
  const upstream = connect({ host: targetHost, port: targetPort, noDelay: true })
  upstream.on('error', () => client.destroy())
  pipeDelayed(client, upstream, Date.now() + 3 * oneWay)
  pipeDelayed(upstream, client, 0)
})
server.listen(listenPort, listenHost, () => process.stdout.write(`listening ${listenHost}:${listenPort}\n`))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
