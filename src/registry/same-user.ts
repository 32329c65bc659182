/**
 * Whether a connection to the shim comes from a process of the user running it. Loopback belongs
 * to every account on the machine: without this, another user of a shared host (a CI runner, a
 * university box) could read through `serve`'s registry whatever the user's npm credentials reach
 * — private packages — and publish with them. On Linux the kernel's socket table says who owns
 * the client's end of the connection (`/proc/net/tcp`, `tcp6`: the row whose local address is the
 * client's and whose remote address is ours names its uid), read once per connection, not per
 * request. Where there is no such table (macOS, Windows) nothing is known and nothing is refused.
 */
import { readFile } from 'node:fs/promises'
import { isIPv4, isIPv6, type Socket } from 'node:net'

/** An address as the kernel's table writes it: each 32-bit word of the address in host (little-endian) order, in hex. */
function tableAddress (address: string, port: number): string | undefined {
  let bytes: number[]
  if (isIPv4(address)) {
    bytes = address.split('.').map(Number)
  } else if (isIPv6(address)) {
    const [head = '', tail = ''] = address.split('::')
    const words = (part: string): number[] => part === '' ? [] : part.split(':').flatMap((word) => isIPv4(word) ? [(Number(word.split('.')[0]) << 8) | Number(word.split('.')[1]), (Number(word.split('.')[2]) << 8) | Number(word.split('.')[3])] : [parseInt(word, 16)])
    const front = words(head)
    const back = words(tail)
    const groups = address.includes('::') ? [...front, ...Array(8 - front.length - back.length).fill(0), ...back] : front
    bytes = groups.flatMap((group) => [group >> 8, group & 0xff])
  } else {
    return undefined
  }
  const words: string[] = []
  for (let i = 0; i < bytes.length; i += 4) words.push(bytes.slice(i, i + 4).reverse().map((b) => b.toString(16).padStart(2, '0')).join(''))
  return `${words.join('')}:${port.toString(16).padStart(4, '0')}`.toUpperCase()
}

/** The uid owning the other end of `socket` (a loopback TCP connection), or undefined when unknown. */
export async function peerUid (socket: Socket): Promise<number | undefined> {
  const { remoteAddress, remotePort, localAddress, localPort } = socket
  if (remoteAddress === undefined || remotePort === undefined || localAddress === undefined || localPort === undefined) return undefined
  const theirs = tableAddress(remoteAddress, remotePort)
  const ours = tableAddress(localAddress, localPort)
  if (theirs === undefined || ours === undefined) return undefined
  const table = isIPv4(remoteAddress) ? '/proc/net/tcp' : '/proc/net/tcp6'
  let text: string
  try {
    text = await readFile(table, 'latin1')
  } catch {
    return undefined
  }
  for (const line of text.split('\n')) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid …
    const fields = line.trim().split(/\s+/)
    if (fields[1] === theirs && fields[2] === ours) return Number(fields[7])
  }
  return undefined
}

/**
 * A check per connection: resolves true when the client is this user's (or cannot be known: no
 * kernel table), false when it is provably another user's — or when the table has no row for the
 * connection, which on Linux means it did not come the way a local client's does.
 */
export function createSameUserCheck (): (socket: Socket) => Promise<boolean> {
  const uid = process.getuid?.()
  const verdicts = new WeakMap<Socket, Promise<boolean>>()
  return async (socket) => {
    if (uid === undefined || process.platform !== 'linux') return true
    let verdict = verdicts.get(socket)
    if (verdict === undefined) {
      verdict = peerUid(socket).then((owner) => owner === uid, () => false)
      verdicts.set(socket, verdict)
    }
    return await verdict
  }
}
