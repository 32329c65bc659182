/**
 * A two-host LAN made of network namespaces: `a` (10.231.N.1) and `b` (10.231.N.2) joined by a
 * veth pair, with a multicast route so mDNS works — and no route anywhere else, so nothing in
 * them reaches the registry. Needs root; `skip` says why when it cannot be made.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface Lan {
  /** Namespace names of the two hosts. */
  ns: { a: string, b: string }
  /** The command prefix that runs a program on a host. */
  on(host: 'a' | 'b'): string[]
  /** Why the LAN could not be made (the test then skips, saying so); undefined when it exists. */
  skip?: string
  remove(): Promise<void>
}

/**
 * Makes the LAN; `subnet` (0–255) keeps concurrent test files apart, `prefix` the namespace names
 * of one area's tests (`publish-…`) apart from another's.
 */
export async function createLan (name: string, subnet: number, prefix = 'inpm'): Promise<Lan> {
  const id = `${name}-${process.pid % 100_000}`
  const ns = { a: `${prefix}-${id}-a`, b: `${prefix}-${id}-b` }
  const veth = { a: `v${subnet}a${process.pid % 10_000}`, b: `v${subnet}b${process.pid % 10_000}` }
  const made: string[] = []
  const ip = async (...args: string[]): Promise<void> => { await run('ip', args) }
  const remove = async (): Promise<void> => {
    for (const each of made.reverse()) await ip('netns', 'del', each).catch(() => {})
  }
  const lan: Lan = { ns, on: (host) => ['ip', 'netns', 'exec', ns[host]], remove }
  try {
    for (const side of ['a', 'b'] as const) {
      await ip('netns', 'add', ns[side])
      made.push(ns[side])
    }
    await ip('link', 'add', veth.a, 'type', 'veth', 'peer', 'name', veth.b)
    for (const [side, host] of [['a', 1], ['b', 2]] as const) {
      await ip('link', 'set', veth[side], 'netns', ns[side])
      await ip('-n', ns[side], 'addr', 'add', `10.231.${subnet}.${host}/24`, 'dev', veth[side])
      await ip('-n', ns[side], 'link', 'set', veth[side], 'up')
      await ip('-n', ns[side], 'link', 'set', 'lo', 'up')
      await ip('-n', ns[side], 'route', 'add', '224.0.0.0/4', 'dev', veth[side])
    }
  } catch (err) {
    await remove()
    lan.skip = `cannot create network namespaces: ${(err as Error).message.split('\n')[0]}`
  }
  return lan
}
