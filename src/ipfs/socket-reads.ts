/**
 * TCP reads of the connections we dial into one reused buffer per connection (net's `onread`),
 * once Noise secures the connection. Node otherwise reads each 64 KiB into fresh memory, freed
 * only at the next garbage collection: on a transfer of the large project that was a third of
 * the fetcher's page faults (16.4k → 10.8k per transfer with reused reads; each fault costs ~10 µs
 * on this VM).
 *
 * Reusing the bytes is safe because, once secured, nothing keeps a view of what was read beyond
 * the next reads: every Noise frame is decrypted into fresh memory (noise-frames.ts: no `dst`
 * view, Node's or the WASM cipher's own output), an unfinished frame (≤ 64 KiB) waits in Noise's
 * decoder, and a paused connection stops reading while its buffered views wait (after a resume the
 * next read dispatches all of them). The ring holds several reads beyond that; were a view ever
 * overwritten, the frame's Poly1305 tag would fail and the connection would close: corrupt bytes
 * never reach a block. Until a connection is secured (the handshake's payload, keys and
 * multistream-select messages are kept as views), and on a connection that never is (a private
 * network's, under its protector), each read is handed on as a copy of its own length, as Node's
 * own reads are.
 */
import type { Socket } from 'node:net'

/** One read at most: a Noise frame (65,537 bytes on the wire) and then some. */
const READ_BYTES = 256 * 1024
/** The reused buffer of a secured connection: four reads. */
const RING_BYTES = 4 * READ_BYTES
/** A read before the connection is secured, as Node's own. */
const UNSECURED_READ_BYTES = 64 * 1024

interface Reads {
  /** Set once the connection is secured. */
  ring?: Buffer
  /** Where the next read goes in `ring`. */
  at: number
}

export interface SocketReads {
  /** `net.connect` options for every socket we dial (@libp2p/tcp's `dialOpts`). */
  dialOptions: { onread: { buffer: () => Uint8Array, callback: (this: Socket, nread: number, buf: Uint8Array) => boolean } }
  /** `connection` (a dialled TCP connection, or anything else: then nothing happens) is secured: its reads may reuse memory from now on. */
  secured(connection: unknown): void
}

function copyOf (bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength)
  copy.set(bytes)
  return copy
}

export function createSocketReads (): SocketReads {
  const sockets = new WeakMap<Socket, Reads>()
  /**
   * The connection whose read just ended. Node asks for the next buffer right after handing the
   * read to `callback`, for the same socket, without saying which; its first buffer (asked for
   * when the socket is made) is the scratch one.
   */
  let last: Reads | undefined
  /** Where unsecured reads land before their copy: reads come one at a time, each copied out at once. */
  const scratch = Buffer.allocUnsafeSlow(UNSECURED_READ_BYTES)

  const buffer = (): Uint8Array => {
    const reads = last
    last = undefined
    if (reads?.ring === undefined) return scratch
    if (reads.at + READ_BYTES > RING_BYTES) reads.at = 0
    return reads.ring.subarray(reads.at, reads.at + READ_BYTES)
  }

  function callback (this: Socket, nread: number, buf: Uint8Array): boolean {
    let reads = sockets.get(this)
    if (reads === undefined) {
      reads = { at: 0 }
      sockets.set(this, reads)
    }
    if (reads.ring !== undefined && buf.buffer === reads.ring.buffer) reads.at = buf.byteOffset - reads.ring.byteOffset + nread
    const data = buf.subarray(0, nread)
    // what Node does with a read of its own: 'data' now, or buffered until a reader comes
    const more = this.push(buf.buffer === scratch.buffer ? copyOf(data) : data)
    // only now: a socket made while 'data' ran (a dial) asks for its first buffer, which must not be our ring
    last = reads
    return more
  }

  return {
    dialOptions: { onread: { buffer, callback } },
    secured (connection) {
      const socket = (connection as { socket?: unknown } | undefined)?.socket
      if (socket === undefined || socket === null || typeof socket !== 'object') return
      const reads = sockets.get(socket as Socket)
      // not a socket of ours (an inbound connection, a wrapped one), or one that never read
      if (reads === undefined) return
      reads.ring ??= Buffer.allocUnsafeSlow(RING_BYTES)
    },
  }
}
