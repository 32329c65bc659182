/**
 * Everything we send one peer over bitswap: wants and cancels (ours), blocks and presences (our
 * answers to theirs), coalesced into as few messages as the byte cap allows and written on one
 * long-lived outbound stream, as Go's bitswap does. A message goes out as soon as the previous one
 * is handed to the transport: no debounce timer, and while the stream drains the next message grows.
 *
 * Helia opens a stream per message (a yamux stream and a protocol negotiation every time); both
 * Helia and Kubo read any number of messages from a stream, so one stream is the same wire.
 */
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { encodeMessage, type OutgoingMessage, type Presence } from './bitswap-message.ts'

export const BITSWAP_120 = '/ipfs/bitswap/1.2.0'

/** Wants in one message at most (Helia keeps 1024 per peer; more in one message would be cut). */
const MAX_WANTS_PER_MESSAGE = 1024
/** Block bytes worth sending without waiting for the reads under way. */
const COALESCE_BYTES = 256 * 1024
/** The longest blocks wait for the reads under way. */
const MAX_HOLD_MS = 2
/** A stream with nothing to send for this long is closed (Helia resets one idle for 10 s). */
const IDLE_CLOSE_MS = 5_000
/** Opening a stream (on an open connection) must not take longer than this. */
const OPEN_TIMEOUT_MS = 10_000

export interface OutboxInit {
  libp2p: Libp2p<any>
  peer: PeerId
  /** Block bytes per message at most (a single bigger block still goes, alone). */
  maxMessageBytes: number
  log(msg: string): void
  /** The peer refused our bitswap stream (it does not speak the protocol): nothing we queue will reach it. */
  onUnsupported?(): void
}

export interface QueuedBlock {
  cid: CID
  data: Uint8Array
  /** Called once the block is handed to the transport, or dropped (peer gone). */
  done(): void
}

interface QueuedWant {
  cid: CID
  cancel: boolean
  wantType: number
  sendDontHave: boolean
}

export class Outbox {
  private readonly wants = new Map<string, QueuedWant>()
  private readonly blocks: QueuedBlock[] = []
  private readonly presences: Presence[] = []
  private stream: Stream | undefined
  private flushing = false
  private closed = false
  private idleTimer: NodeJS.Timeout | undefined
  private holdTimer: NodeJS.Timeout | undefined
  /** Reads under way for this peer (see `expect`). */
  private expected = 0
  private queuedBytes = 0
  /** Messages and bytes written, for the counts in `stats()`. */
  messages = 0
  bytes = 0

  private readonly init: OutboxInit
  constructor (init: OutboxInit) {
    this.init = init
  }

  /** Queues a want (or, with `cancel`, a cancel, which replaces a want for the same block not yet sent). */
  want (key: string, entry: QueuedWant): void {
    this.wants.set(key, entry)
    this.schedule()
  }

  block (block: QueuedBlock): void {
    if (this.closed) {
      block.done()
      return
    }
    this.blocks.push(block)
    this.queuedBytes += block.data.byteLength
    this.schedule()
  }

  presence (presence: Presence): void {
    this.presences.push(presence)
    this.schedule()
  }

  /** Drops everything queued and closes the stream (the peer is gone or we stop). */
  close (): void {
    this.closed = true
    clearTimeout(this.idleTimer)
    clearTimeout(this.holdTimer)
    for (const block of this.blocks.splice(0)) block.done()
    this.wants.clear()
    this.presences.length = 0
    const stream = this.stream
    this.stream = undefined
    if (stream !== undefined) void stream.close().catch(() => stream.abort(new Error('closed')))
  }

  /**
   * The server is reading a block for this peer: blocks are held back until its reads are done
   * (or COALESCE_BYTES wait, or MAX_HOLD_MS passed), so blocks read together go out as one
   * message — one yamux frame and one window update in return, instead of one per block.
   */
  expect (): void {
    this.expected++
  }

  /** A read announced with `expect` ended (whether or not it queued a block). */
  settle (): void {
    this.expected--
    if (this.expected === 0) this.schedule()
  }

  private pending (): boolean {
    return this.wants.size > 0 || this.blocks.length > 0 || this.presences.length > 0
  }

  /** Whether to wait for more blocks before sending what is queued. */
  private holding (): boolean {
    return this.expected > 0 && this.wants.size === 0 && this.presences.length === 0 && this.queuedBytes < COALESCE_BYTES
  }

  private schedule (): void {
    if (this.flushing || this.closed || !this.pending()) return
    if (this.holding()) {
      this.holdTimer ??= setTimeout(() => {
        this.holdTimer = undefined
        this.start()
      }, MAX_HOLD_MS)
      return
    }
    this.start()
  }

  private start (): void {
    if (this.flushing || this.closed || !this.pending()) return
    clearTimeout(this.holdTimer)
    this.holdTimer = undefined
    this.flushing = true
    // after the current task: everything queued in this turn of the event loop goes in one message
    setImmediate(() => { void this.flush() })
  }

  private take (): OutgoingMessage {
    const wants: OutgoingMessage['wants'] = []
    for (const [key, want] of this.wants) {
      if (wants.length === MAX_WANTS_PER_MESSAGE) break
      wants.push(want)
      this.wants.delete(key)
    }
    const blocks: QueuedBlock[] = []
    let bytes = 0
    while (this.blocks.length > 0 && (blocks.length === 0 || bytes + this.blocks[0]!.data.byteLength <= this.init.maxMessageBytes)) {
      const block = this.blocks.shift()!
      bytes += block.data.byteLength
      this.queuedBytes -= block.data.byteLength
      blocks.push(block)
    }
    return { wants, blocks, presences: this.presences.splice(0) }
  }

  private async flush (): Promise<void> {
    clearTimeout(this.idleTimer)
    try {
      while (!this.closed && this.pending() && !this.holding()) {
        const message = this.take()
        try {
          await this.write(message)
        } catch (err) {
          // one retry on a fresh stream: a remote may reset a stream it thinks idle
          this.dropStream(err as Error)
          if (this.closed) break
          try {
            await this.write(message)
          } catch (err2) {
            this.dropStream(err2 as Error)
            this.init.log(`bitswap: cannot send to ${this.init.peer}: ${(err2 as Error).message} (first: ${(err as Error).message})`)
            if ((err2 as Error).name === 'UnsupportedProtocolError') this.init.onUnsupported?.()
          }
        } finally {
          for (const block of message.blocks as QueuedBlock[]) block.done()
        }
      }
    } finally {
      this.flushing = false
      this.schedule()
      if (!this.closed && this.stream !== undefined && !this.flushing) {
        this.idleTimer = setTimeout(() => this.closeIdle(), IDLE_CLOSE_MS)
        this.idleTimer.unref()
      }
    }
  }

  private closeIdle (): void {
    if (this.flushing || this.stream === undefined) return
    const stream = this.stream
    this.stream = undefined
    void stream.close().catch(() => stream.abort(new Error('idle')))
  }

  private dropStream (err: Error): void {
    this.stream?.abort(err)
    this.stream = undefined
  }

  private async write (message: OutgoingMessage): Promise<void> {
    if (this.stream === undefined || this.stream.status !== 'open' || this.stream.writeStatus !== 'writable') {
      this.stream = await this.init.libp2p.dialProtocol(this.init.peer, BITSWAP_120, { signal: AbortSignal.timeout(OPEN_TIMEOUT_MS) })
    }
    const stream = this.stream
    const data = encodeMessage(message)
    this.messages++
    this.bytes += data.byteLength
    if (!stream.send(data)) await stream.onDrain({ signal: AbortSignal.timeout(OPEN_TIMEOUT_MS * 3) })
  }
}
