/**
 * The WAN: a network namespace holding the bench's registry mirror, reached over a veth whose
 * both ends are rate-limited with `tc tbf`, behind a delay line that adds the round-trip time.
 * (This machine's kernel has no `sch_netem`; tbf + a userspace delay line is the same link as
 * far as an HTTP client can tell: bandwidth, per-connection handshake RTT, per-exchange RTT.)
 * Created and torn down by the harness; needs root.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { startService, type Service } from './service.ts'

const run = promisify(execFile)

export interface WanInit {
  /** e.g. 20 (Mbit/s), each direction. */
  mbit: number
  /** Round trip in ms, e.g. 80. */
  rttMs: number
  /** The mirror directory to serve. */
  mirrorDir: string
  /** `node` and the bench directory, to start the mirror and the delay line in the namespace. */
  node: string
  benchDir: string
}

export interface Wan {
  /** The mirror's URL as clients in the root namespace reach it (through the shaped link). */
  registry: string
  stop(): Promise<void>
}

async function ip (...args: string[]): Promise<void> {
  await run('ip', args)
}

/** A network namespace joined to the root one by a veth whose both ends are shaped by `tc tbf`. */
export interface ShapedLink {
  ns: string
  hostIp: string
  nsIp: string
  stop(): Promise<void>
}

/**
 * Builds a namespace `<name>-<pid>` behind a veth (`<ifPrefix><pid>a`/`b`, a /30 in
 * `10.<subnet>.<pid % 250>.0`), `tbf` (the arguments after `rate`) applied to both ends.
 */
export async function startShapedLink (init: { name: string, ifPrefix: string, subnet: number, tbf: string[] }): Promise<ShapedLink> {
  const id = process.pid % 250
  const ns = `${init.name}-${process.pid}`
  const hostIf = `${init.ifPrefix}${process.pid}a`.slice(0, 15)
  const nsIf = `${init.ifPrefix}${process.pid}b`.slice(0, 15)
  const hostIp = `10.${init.subnet}.${id}.1`
  const nsIp = `10.${init.subnet}.${id}.2`
  const stop = async (): Promise<void> => {
    await ip('netns', 'del', ns).catch(() => {})
    await ip('link', 'del', hostIf).catch(() => {})
  }
  try {
    await ip('netns', 'add', ns)
    await ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf)
    await ip('link', 'set', nsIf, 'netns', ns)
    await ip('addr', 'add', `${hostIp}/30`, 'dev', hostIf)
    await ip('link', 'set', hostIf, 'up')
    await ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', nsIf)
    await ip('netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up')
    await ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up')
    const tbf = ['root', 'tbf', 'rate', ...init.tbf]
    await run('tc', ['qdisc', 'add', 'dev', hostIf, ...tbf])
    await ip('netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', nsIf, ...tbf)
    return { ns, hostIp, nsIp, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Builds the namespace and link and starts the mirror behind them. */
export async function startWan (init: WanInit): Promise<Wan> {
  const link = await startShapedLink({ name: 'inpm-wan', ifPrefix: 'inpmw', subnet: 231, tbf: [`${init.mbit}mbit`, 'burst', '64kb', 'latency', '300ms'] })
  const { ns, nsIp } = link
  const services: Service[] = []
  const stop = async (): Promise<void> => {
    for (const s of services.reverse()) await s.stop()
    await link.stop()
  }
  try {
    const registry = `http://${nsIp}:8080/`
    services.push(await startService({
      command: 'ip',
      args: ['netns', 'exec', ns, init.node, `${init.benchDir}/mirror-server.ts`, '--dir', init.mirrorDir, '--port', '8081', '--base', registry],
      ready: /listening/,
    }))
    services.push(await startService({
      command: 'ip',
      args: ['netns', 'exec', ns, init.node, `${init.benchDir}/delay-line.ts`, '--listen', `${nsIp}:8080`, '--target', '127.0.0.1:8081', '--rtt', String(init.rttMs)],
      ready: /listening/,
    }))
    return { registry, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
