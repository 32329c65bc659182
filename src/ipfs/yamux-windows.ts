/**
 * `@libp2p/yamux`, sending window updates as go-yamux does (the same protocol, a quarter of the
 * frames). Applied to a stream only when it has @libp2p/yamux 8's shape; otherwise left as is.
 */
import type { StreamMuxerFactory } from '@libp2p/interface'
import { yamux } from '@libp2p/yamux'
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'

/**
 * A yamux stream's receive window once it is open: what a peer may send us ahead of our window
 * updates. go-yamux grows its windows to 16 MiB; 4 MiB holds several of the largest bitswap
 * messages we accept.
 */
const RECEIVE_WINDOW = 4 * 1024 * 1024

/**
 * A yamux stream of ours sends window updates as go-yamux does — once half of its receive window
 * is used — instead of after every data frame (@libp2p/yamux 8), and raises its window from the
 * protocol's 256 KiB to RECEIVE_WINDOW with its first update (the standard way to grow one;
 * @libp2p/yamux grows it only when updates follow each other within four round trips). Each update
 * is a Noise frame and a socket write of ours and a frame for the sender to decrypt: on the large
 * project's transfer from one peer the fetcher sent 85-106 window-update frames, now 25-28 (every
 * stream's ACK among them). Applied only to a stream with @libp2p/yamux 8's shape; false otherwise.
 */
export function withFewerWindowUpdates (stream: unknown): boolean {
  if (!(stream instanceof YamuxStream) || !Object.hasOwn(YamuxStream.prototype, 'sendWindowUpdate')) return false
  const s = stream as unknown as { state: unknown, recvWindow: unknown, recvWindowCapacity: unknown, maxStreamWindowSize: unknown, sendWindowUpdate: unknown }
  if (typeof s.recvWindow !== 'number' || typeof s.recvWindowCapacity !== 'number' || typeof s.maxStreamWindowSize !== 'number' || typeof s.sendWindowUpdate !== 'function') return false
  const window = s as { state: StreamState, recvWindow: number, recvWindowCapacity: number, maxStreamWindowSize: number }
  window.recvWindow = Math.max(window.recvWindow, Math.min(RECEIVE_WINDOW, window.maxStreamWindowSize))
  const sendWindowUpdate = (s.sendWindowUpdate as () => void).bind(stream)
  s.sendWindowUpdate = () => {
    // the sender still has at least half the window; a new stream's ACK and a paused one's resume go through
    if (window.state === StreamState.Established && window.recvWindow - window.recvWindowCapacity < window.recvWindow / 2) return
    sendWindowUpdate()
  }
  return true
}

/** @libp2p/yamux, every stream with fewer window updates (withFewerWindowUpdates); a muxer without `_newStream` is left as is. */
export function yamuxWithFewerWindowUpdates (): () => StreamMuxerFactory {
  const create = yamux()
  return () => {
    const factory = create()
    const createStreamMuxer = factory.createStreamMuxer.bind(factory)
    factory.createStreamMuxer = (maConn) => {
      const muxer = createStreamMuxer(maConn)
      const m = muxer as unknown as { _newStream?: unknown }
      const newStream = m._newStream
      if (typeof newStream === 'function') {
        m._newStream = (...args: unknown[]) => {
          const stream = newStream.apply(muxer, args)
          withFewerWindowUpdates(stream)
          return stream
        }
      }
      return muxer
    }
    return factory
  }
}
