/**
 * The bitswap 1.2.0 wire message (`message.proto` of the spec), encoded and decoded by hand:
 *
 *   Message { Wantlist wantlist = 1; repeated Block payload = 3; repeated BlockPresence blockPresences = 4; int32 pendingBytes = 5 }
 *   Wantlist { repeated Entry entries = 1; bool full = 2 }
 *   Entry { bytes block = 1; int32 priority = 2; bool cancel = 3; WantType wantType = 4; bool sendDontHave = 5 }
 *   Block { bytes prefix = 1; bytes data = 2 }      BlockPresence { bytes cid = 1; BlockPresenceType type = 2 }
 *
 * Hand-written so that a block's bytes are never copied on the way out (a message is a list of
 * slices handed to the stream as one Uint8ArrayList) nor on the way in (a decoded message and
 * its blocks are views of the chunks the stream delivered; a 1 MiB block arrives in ~17 of them). The 1.0.0 `blocks = 2` field is skipped, as Helia and Kubo skip it.
 */
import { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { npmError } from '../errors.ts'

export const WANT_BLOCK = 0
export const WANT_HAVE = 1
export const HAVE = 0
export const DONT_HAVE = 1

export interface WantEntry {
  cid: CID
  priority: number
  cancel: boolean
  wantType: number
  sendDontHave: boolean
}

export interface ReceivedBlock {
  /** CID version, codec, multihash code and digest length, from the block's prefix. */
  version: number
  codec: number
  hashCode: number
  hashLength: number
  /** Views of the received chunks: joined only once the block is wanted and hashed. */
  data: Uint8ArrayList
}

export interface Presence {
  cid: CID
  type: number
}

export interface Message {
  wants: WantEntry[]
  full: boolean
  blocks: ReceivedBlock[]
  presences: Presence[]
}

/** What we send: wants, blocks (with their CID, for the prefix) and presences. */
export interface OutgoingMessage {
  wants: Array<Pick<WantEntry, 'cid' | 'cancel' | 'wantType' | 'sendDontHave'>>
  blocks: Array<{ cid: CID, data: Uint8Array }>
  presences: Presence[]
}

/** A malformed bitswap message from a peer (`EBITSWAPMESSAGE`): the peer's fault, never ours. */
const messageError = (message: string): Error => npmError('EBITSWAPMESSAGE', message)

function varintLength (n: number): number {
  let len = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

/** Writes into pre-sized buffers; slices of block data are appended by reference. */
class Writer {
  readonly list = new Uint8ArrayList()
  private buf: Uint8Array
  private pos = 0
  constructor (headerBytes: number) {
    this.buf = new Uint8Array(headerBytes)
  }

  varint (n: number): void {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80
      n = Math.floor(n / 128)
    }
    this.buf[this.pos++] = n
  }

  bytes (b: Uint8Array): void {
    this.buf.set(b, this.pos)
    this.pos += b.byteLength
  }

  /** A length-delimited field copied in: its key, its length, its bytes. */
  field (number: number, b: Uint8Array): void {
    this.varint((number << 3) | 2)
    this.varint(b.byteLength)
    this.bytes(b)
  }

  /** Appends `b` without copying it (and everything written before it). */
  reference (b: Uint8Array): void {
    this.flush()
    this.list.append(b)
  }

  flush (): void {
    if (this.pos === 0) return
    this.list.append(this.buf.subarray(0, this.pos))
    this.buf = this.buf.subarray(this.pos)
    this.pos = 0
  }
}

const tagLen = 1 // every field number here is < 16
const lenField = (n: number): number => tagLen + varintLength(n) + n

/** The CID prefix of a block: version, codec, multihash code, digest length. */
export function cidPrefix (cid: CID): Uint8Array {
  const values = [cid.version, cid.code, cid.multihash.code, cid.multihash.size]
  const out = new Uint8Array(values.reduce((n, v) => n + varintLength(v), 0))
  let pos = 0
  for (let v of values) {
    while (v >= 0x80) {
      out[pos++] = (v & 0x7f) | 0x80
      v = Math.floor(v / 128)
    }
    out[pos++] = v
  }
  return out
}

/** The length-prefixed wire form of `message`. */
export function encodeMessage (message: OutgoingMessage): Uint8ArrayList {
  const entries = message.wants.map((w) => {
    const cid = w.cid.bytes
    const len = lenField(cid.byteLength) + 2 /* priority 1 */ + (w.cancel ? 2 : 0) + (w.wantType !== WANT_BLOCK ? 2 : 0) + (w.sendDontHave ? 2 : 0)
    return { w, cid, len }
  })
  const wantlistLen = entries.reduce((n, e) => n + lenField(e.len), 0)
  const blocks = message.blocks.map((b) => {
    const prefix = cidPrefix(b.cid)
    const len = lenField(prefix.byteLength) + lenField(b.data.byteLength)
    return { prefix, data: b.data, len }
  })
  const presences = message.presences.map((p) => {
    const cid = p.cid.bytes
    return { cid, type: p.type, len: lenField(cid.byteLength) + (p.type !== HAVE ? 2 : 0) }
  })
  const bodyLen = (entries.length > 0 ? lenField(wantlistLen) : 0) +
    blocks.reduce((n, b) => n + lenField(b.len), 0) +
    presences.reduce((n, p) => n + lenField(p.len), 0)
  // everything but the block data goes into one header buffer
  const headerBytes = varintLength(bodyLen) + bodyLen - blocks.reduce((n, b) => n + b.data.byteLength, 0)
  const out = new Writer(headerBytes)
  out.varint(bodyLen)
  if (entries.length > 0) {
    out.varint((1 << 3) | 2)
    out.varint(wantlistLen)
    for (const { w, cid, len } of entries) {
      out.varint((1 << 3) | 2)
      out.varint(len)
      out.field(1, cid)
      out.varint(2 << 3)
      out.varint(1)
      if (w.cancel) { out.varint(3 << 3); out.varint(1) }
      if (w.wantType !== WANT_BLOCK) { out.varint(4 << 3); out.varint(w.wantType) }
      if (w.sendDontHave) { out.varint(5 << 3); out.varint(1) }
    }
  }
  for (const b of blocks) {
    out.varint((3 << 3) | 2)
    out.varint(b.len)
    out.field(1, b.prefix)
    out.varint((2 << 3) | 2)
    out.varint(b.data.byteLength)
    out.reference(b.data)
  }
  for (const p of presences) {
    out.varint((4 << 3) | 2)
    out.varint(p.len)
    out.field(1, p.cid)
    if (p.type !== HAVE) { out.varint(2 << 3); out.varint(p.type) }
  }
  out.flush()
  return out.list
}

/**
 * Reads protobuf fields from a list of chunks (as they came off the stream) without joining
 * them: a field within one chunk is a view of it, a block's data a list of views.
 */
class Reader {
  private readonly chunks: Uint8Array[]
  /** The chunk being read, the offset in it, and the bytes this reader may still read. */
  private ci: number
  private co: number
  private left: number
  constructor (chunks: Uint8Array[], ci: number, co: number, length: number) {
    this.chunks = chunks
    this.ci = ci
    this.co = co
    this.left = length
  }

  static of (buf: Uint8Array | Uint8ArrayList): Reader {
    const chunks = buf instanceof Uint8Array ? [buf] : [...buf]
    return new Reader(chunks, 0, 0, buf.byteLength)
  }

  get done (): boolean {
    return this.left === 0
  }

  private byte (): number {
    if (this.left === 0) throw messageError('truncated varint')
    let chunk = this.chunks[this.ci]!
    while (this.co >= chunk.byteLength) {
      chunk = this.chunks[++this.ci]!
      this.co = 0
    }
    this.left--
    return chunk[this.co++]!
  }

  varint (): number {
    let result = 0
    let shift = 1
    for (let i = 0; i < 10; i++) {
      const b = this.byte()
      result += (b & 0x7f) * shift
      if (b < 0x80) return result
      shift *= 128
    }
    throw messageError('varint too long')
  }

  /** Moves on `len` bytes, calling `onPiece` with each chunk's part of them. */
  private advance (len: number, onPiece?: (piece: Uint8Array) => void): void {
    if (len > this.left) throw messageError('truncated field')
    this.left -= len
    while (len > 0) {
      const chunk = this.chunks[this.ci]!
      const n = Math.min(len, chunk.byteLength - this.co)
      if (n > 0) onPiece?.(chunk.subarray(this.co, this.co + n))
      this.co += n
      len -= n
      if (len > 0) {
        this.ci++
        this.co = 0
      }
    }
  }

  /** A length-delimited field's bytes as views of the chunks. */
  list (): Uint8ArrayList {
    const out = new Uint8ArrayList()
    this.advance(this.varint(), (piece) => out.append(piece))
    return out
  }

  /** A length-delimited field's bytes in one piece (copied only if they span chunks): for small fields. */
  bytes (): Uint8Array {
    return this.list().subarray()
  }

  /** A reader of a length-delimited field (an embedded message). */
  message (): Reader {
    const len = this.varint()
    if (len > this.left) throw messageError('truncated field')
    const sub = new Reader(this.chunks, this.ci, this.co, len)
    this.advance(len)
    return sub
  }

  skip (wireType: number): void {
    if (wireType === 0) this.varint()
    else if (wireType === 2) this.advance(this.varint())
    else if (wireType === 1) this.advance(8)
    else if (wireType === 5) this.advance(4)
    else throw messageError(`unsupported wire type ${wireType}`)
  }

  /** Calls `onField(fieldNumber, wireType)` for every field; it must consume the value or return false to skip it. */
  fields (onField: (no: number, wireType: number) => boolean): void {
    while (!this.done) {
      const tag = this.varint()
      const wireType = tag & 7
      if (!onField(Math.floor(tag / 8), wireType)) this.skip(wireType)
    }
  }
}

function decodeEntry (r: Reader): WantEntry {
  let cid: CID | undefined
  const entry = { priority: 1, cancel: false, wantType: WANT_BLOCK, sendDontHave: false }
  r.fields((no, wt) => {
    if (no === 1 && wt === 2) cid = CID.decode(r.bytes())
    else if (no === 2 && wt === 0) entry.priority = r.varint()
    else if (no === 3 && wt === 0) entry.cancel = r.varint() !== 0
    else if (no === 4 && wt === 0) entry.wantType = r.varint()
    else if (no === 5 && wt === 0) entry.sendDontHave = r.varint() !== 0
    else return false
    return true
  })
  if (cid === undefined) throw messageError('want entry without a CID')
  return { cid, ...entry }
}

function decodeBlock (r: Reader): ReceivedBlock {
  let prefix: Reader | undefined
  let data: Uint8ArrayList | undefined
  r.fields((no, wt) => {
    if (no === 1 && wt === 2) prefix = r.message()
    else if (no === 2 && wt === 2) data = r.list()
    else return false
    return true
  })
  if (prefix === undefined || data === undefined) throw messageError('block without prefix or data')
  return { version: prefix.varint(), codec: prefix.varint(), hashCode: prefix.varint(), hashLength: prefix.varint(), data }
}

/** Decodes one message (without its length prefix). Throws an `EBITSWAPMESSAGE` error on malformed input. */
export function decodeMessage (buf: Uint8Array | Uint8ArrayList): Message {
  const message: Message = { wants: [], full: false, blocks: [], presences: [] }
  const r = Reader.of(buf)
  r.fields((no, wt) => {
    if (no === 1 && wt === 2) {
      const w = r.message()
      w.fields((wno, wwt) => {
        if (wno === 1 && wwt === 2) message.wants.push(decodeEntry(w.message()))
        else if (wno === 2 && wwt === 0) message.full = w.varint() !== 0
        else return false
        return true
      })
    } else if (no === 3 && wt === 2) {
      message.blocks.push(decodeBlock(r.message()))
    } else if (no === 4 && wt === 2) {
      const p = r.message()
      let cid: CID | undefined
      let type = HAVE
      p.fields((pno, pwt) => {
        if (pno === 1 && pwt === 2) cid = CID.decode(p.bytes())
        else if (pno === 2 && pwt === 0) type = p.varint()
        else return false
        return true
      })
      if (cid !== undefined) message.presences.push({ cid, type })
    } else {
      return false
    }
    return true
  })
  return message
}

/**
 * Splits a byte stream into length-prefixed messages of at most `maxLength` bytes; a longer one
 * throws (the stream is then aborted: a peer that sends one is broken or hostile).
 */
export class MessageReader {
  private readonly buffer = new Uint8ArrayList()
  private readonly maxLength: number
  constructor (maxLength: number) {
    this.maxLength = maxLength
  }

  /** Appends `chunk` and returns every complete message in the buffer, as views of the chunks. */
  push (chunk: Uint8Array | Uint8ArrayList): Uint8ArrayList[] {
    this.buffer.append(chunk)
    const out: Uint8ArrayList[] = []
    for (;;) {
      let len = 0
      let shift = 1
      let pos = 0
      let complete = false
      while (pos < this.buffer.byteLength && pos < 10) {
        const b = this.buffer.get(pos++)
        len += (b & 0x7f) * shift
        shift *= 128
        if (b < 0x80) {
          complete = true
          break
        }
      }
      if (!complete) {
        if (pos >= 10) throw messageError('bad length prefix')
        return out
      }
      if (len > this.maxLength) throw messageError(`message of ${len} bytes is over the ${this.maxLength} byte limit`)
      if (this.buffer.byteLength < pos + len) return out
      out.push(this.buffer.sublist(pos, pos + len))
      this.buffer.consume(pos + len)
    }
  }
}

/** ES2024's detachable ArrayBuffer (Node 22+), beyond the ES2023 library tsc is given. */
interface Detachable { readonly detached: boolean, transfer(length: number): ArrayBuffer }

/**
 * Frees at once the memory of received chunks that held nothing but one block's data, once that
 * block has been hashed and copied (or dropped): a block in two or more chunks is always copied
 * into its own buffer (a DAG leaf's place in its tarball, or one joined copy), never handed out as
 * a view. Each chunk is a decrypted Noise frame (Node's decipher output, a buffer of its own) or
 * part of one; a chunk that covers its whole buffer holds no other bytes — no yamux header, no
 * message framing, no CID another part keeps, nothing of another stream — so this block's list
 * (and the decoded message, dropped after it) holds its only views. Detached now, its memory goes
 * back to malloc for the next frame instead of waiting for a garbage collection that, on a transfer,
 * comes only after tens of MB of fresh pages (each first touch a page fault and a zeroed page).
 * Returns the bytes freed.
 */
export function releaseCopiedChunks (blocks: ReceivedBlock[]): number {
  let freed = 0
  for (const block of blocks) {
    const chunks = [...block.data]
    if (chunks.length < 2) continue
    for (const chunk of chunks) {
      const buffer = chunk.buffer as ArrayBufferLike & Partial<Detachable>
      const length = chunk.byteLength
      if (chunk.byteOffset !== 0 || length !== buffer.byteLength || buffer.detached !== false || typeof buffer.transfer !== 'function') continue
      try {
        buffer.transfer(0)
        freed += length
      } catch {
        // not detachable (a buffer Node keeps for itself): left to the garbage collector
      }
    }
  }
  return freed
}
