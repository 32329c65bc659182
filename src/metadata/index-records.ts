/**
 * An index's IPNS records: V2 records (CBOR data signed by the index key, with a sequence number
 * and an end of validity) made and checked with the Helia project's `ipns` package, and the
 * memory of the newest record accepted per name — so a client never rolls back to an older
 * sequence, and still knows the index when no peer is around.
 */
import { createIPNSRecord, marshalIPNSRecord, unmarshalIPNSRecord, type IPNSRecord } from 'ipns'
import { ipnsValidator } from 'ipns/validator'
import type { PrivateKey } from '@libp2p/interface'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { npmError, type NpmError } from '../errors.ts'
import type { IndexName } from './index-key.ts'

/** A record refused (another key, bad signature, expired, older than one seen, malformed), or none found. */
export type IndexRecordError = NpmError & { reason: 'malformed' | 'forged' | 'expired' | 'rollback' | 'missing' }

export function indexRecordError (message: string, reason: IndexRecordError['reason']): IndexRecordError {
  return npmError('EINDEXRECORD', message, { reason })
}

export const isIndexRecordError = (err: unknown): err is IndexRecordError => (err as { code?: unknown }).code === 'EINDEXRECORD'

/** A record that passed every check. */
export interface CheckedRecord {
  root: CID
  sequence: bigint
  /** End of validity. */
  validUntil: Date
  /** How long the publisher says the record may be cached, in ms. */
  ttl: number
  bytes: Uint8Array
}

/** Makes the marshaled V2 record pointing `name` at `root`. */
export async function createIndexRecord (key: PrivateKey, root: CID, sequence: bigint, lifetime: number, ttl: number): Promise<Uint8Array> {
  const record = await createIPNSRecord(key, `/ipfs/${root.toString()}`, sequence, lifetime, { v1Compatible: false, ttlNs: BigInt(ttl) * 1_000_000n })
  return marshalIPNSRecord(record)
}

function validityOf (record: IPNSRecord): Date {
  // RFC 3339 with nanoseconds: Date parses it once the fraction is cut to milliseconds
  return new Date(record.validity.replace(/(\.\d{3})\d*/, '$1'))
}

/**
 * Checks `bytes` as a record of `index`: signed by the index's own key (the name is the key),
 * not expired, pointing at an `/ipfs/<cid>`. Throws IndexRecordError saying which check failed.
 */
export async function checkIndexRecord (index: IndexName, bytes: Uint8Array): Promise<CheckedRecord> {
  let record: IPNSRecord
  try {
    record = unmarshalIPNSRecord(bytes)
  } catch (err) {
    throw indexRecordError(`index ${index.name}: malformed IPNS record (${(err as Error).message})`, 'malformed')
  }
  try {
    await ipnsValidator(index.routingKey, bytes)
  } catch (err) {
    const kind = (err as Error).name
    if (kind === 'RecordExpiredError') {
      throw indexRecordError(`index ${index.name}: the record (sequence ${record.sequence}) expired at ${validityOf(record).toISOString()}; its publisher must re-publish it`, 'expired')
    }
    if (kind === 'SignatureVerificationError' || kind === 'InvalidEmbeddedPublicKeyError') {
      throw indexRecordError(`index ${index.name}: record not signed by the index's key; refused`, 'forged')
    }
    throw indexRecordError(`index ${index.name}: invalid IPNS record (${(err as Error).message})`, 'malformed')
  }
  const root = /^\/ipfs\/([^/]+)$/.exec(record.value)?.[1]
  let cid: CID
  try {
    cid = CID.parse(root ?? '')
  } catch {
    throw indexRecordError(`index ${index.name}: the record points at ${JSON.stringify(record.value)}, not an /ipfs/ CID`, 'malformed')
  }
  return { root: cid, sequence: record.sequence, validUntil: validityOf(record), ttl: Number((record.ttl ?? 0n) / 1_000_000n), bytes }
}

/** The newest record accepted per index, under `<stateDir>/ipns/<name>.record`. */
export interface RecordMemory {
  /** The record last accepted for `index`, unchecked (the caller checks it again: it may have expired). */
  get(index: IndexName): Promise<Uint8Array | undefined>
  /** The sequence of the record last accepted, or -1n. */
  sequence(index: IndexName): Promise<bigint>
  /** Keeps `record` unless one with a higher sequence is kept already. */
  remember(index: IndexName, record: CheckedRecord): Promise<void>
}

export function createRecordMemory (stateDir: string): RecordMemory {
  const dir = join(stateDir, 'ipns')
  const file = (index: IndexName): string => join(dir, `${index.name}.record`)
  const get = async (index: IndexName): Promise<Uint8Array | undefined> => {
    try {
      return await readFile(file(index))
    } catch {
      return undefined
    }
  }
  const sequence = async (index: IndexName): Promise<bigint> => {
    const bytes = await get(index)
    if (bytes === undefined) return -1n
    try {
      return unmarshalIPNSRecord(bytes).sequence
    } catch {
      return -1n
    }
  }
  return {
    get,
    sequence,
    async remember (index, record) {
      if (record.sequence < await sequence(index)) return
      await mkdir(dir, { recursive: true })
      const temp = `${file(index)}.${process.pid}.tmp`
      await writeFile(temp, record.bytes)
      await rename(temp, file(index))
    },
  }
}
