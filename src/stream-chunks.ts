/**
 * Reading the streams npm's libraries hand back (make-fetch-happen's response bodies). Those are
 * minipass-pipeline streams on minipass 3, whose async iterator adds a `Symbol(destroyed)`
 * listener for every chunk and never removes it: a `for await` over more than ten chunks makes
 * Node print `MaxListenersExceededWarning … [CachingMinipassPipeline]`, which npm (which never
 * iterates them so) does not. Piped into a Node stream first, nothing leaks.
 */
import { PassThrough } from 'node:stream'

/** A readable stream, Node's or minipass's: what can be piped and fails with 'error'. */
interface Pipeable {
  pipe(destination: NodeJS.WritableStream): unknown
  on(event: 'error', listener: (err: any) => void): unknown
}

/** The whole stream as one Buffer. */
export async function bytesOf (stream: Pipeable): Promise<Buffer> {
  const through = new PassThrough()
  stream.on('error', (err: Error) => through.destroy(err))
  stream.pipe(through)
  const chunks: Buffer[] = []
  for await (const chunk of through) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
