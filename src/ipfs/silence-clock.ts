/**
 * When has a fetch from peers been silent too long: the clock shared by the tarball fetcher
 * (fetcher.ts) and content by CID alone (fetch-cid.ts, `install <cid>`). A whole block or a
 * peer's answer is progress in full; the bytes of a block still coming in are progress at a
 * minimum rate, for a bounded time, so a large block sent slowly but steadily is not silence
 * while a peer trickling bytes (or streaming a message it never finishes) still costs a bounded
 * wait. Before giving up, one turn of the event loop lets bytes already on a socket be read.
 */

/**
 * Bytes of a block still coming in are progress at this rate: each byte buys 1/MIN_BYTE_RATE s
 * of patience (never past now). A peer sending a 1 MiB block slowly but steadily (a loaded seeder
 * serving ten askers at once) is not silent; one trickling a few bytes a second earns that
 * fraction of the time only, so its fetch gives up barely later than on silence.
 */
const MIN_BYTE_RATE = 16 * 1024
/**
 * ...and for at most this many peer timeouts past the fetch's last whole block or answer: a peer
 * streaming bytes fast enough but never completing a block (one endless message) costs a bounded
 * wait, (1 + BYTE_PATIENCE) × peerTimeout. An honest peer's 1 MiB block fits in it down to
 * 64 KiB/s at the default 2 s.
 */
const BYTE_PATIENCE = 8

export interface SilenceClockInit {
  /** ms of silence after which the fetch gives up (unless `bound` allows more). */
  peerTimeout: number
  /** A running count of bytes of blocks still coming in (BitswapExchange.arrived). */
  arrived(): number
  /** When the fetch last made progress in full (a whole block, a peer's answer, its start), in ms since the epoch. */
  lastProgress(): number
  /** The silence allowed now, asked at every check; `peerTimeout` when omitted. */
  bound?(): number
  /** Called once, when the silence reached the bound. */
  onSilent(bound: number): void
}

export interface SilenceClock {
  /** Stops the clock for good: nothing left to wait on peers for, or the fetch is over. */
  stop(): void
}

/** Starts a fetch's clock of silence. */
export function startSilenceClock (init: SilenceClockInit): SilenceClock {
  const { peerTimeout } = init
  const boundNow = init.bound ?? ((): number => peerTimeout)
  /** How far bytes of blocks not yet whole carried progress (MIN_BYTE_RATE, BYTE_PATIENCE). */
  let byteClock = Date.now()
  let bytesSeen = init.arrived()
  const progressAt = (): number => {
    const since = init.lastProgress()
    const bytes = init.arrived()
    byteClock = Math.min(Date.now(), Math.max(byteClock, since) + (bytes - bytesSeen) * 1000 / MIN_BYTE_RATE)
    bytesSeen = bytes
    return Math.max(since, Math.min(byteClock, since + BYTE_PATIENCE * peerTimeout))
  }
  let timer: NodeJS.Timeout | undefined
  let grace: NodeJS.Immediate | undefined
  let graced = false
  let stopped = false
  const check = (): void => {
    grace = undefined
    if (stopped) return
    const bound = boundNow()
    const idle = Date.now() - progressAt()
    if (idle < bound) {
      graced = false
      timer = setTimeout(check, Math.min(bound - idle, peerTimeout))
    } else if (!graced) {
      // timers run before the loop polls its sockets: woken from a long stall (a loaded machine),
      // this may run before bytes already waiting for us are read. One turn to read them first.
      graced = true
      grace = setImmediate(check)
    } else {
      stopped = true
      init.onSilent(bound)
    }
  }
  timer = setTimeout(check, peerTimeout)
  return {
    stop: () => {
      stopped = true
      clearTimeout(timer)
      clearImmediate(grace)
    },
  }
}
