/**
 * The bench's registry: serves a mirror directory filled by lib/mirror-fill.ts (abbreviated
 * packuments and tarballs) over HTTP the way the registry's CDN does: keep-alive, packuments
 * gzipped when the client accepts it, ETags answered with 304. Runs as its own process so it
 * can live in a network namespace behind the shaped link.
 *
 *   node bench/mirror-server.ts --dir DIR [--host 127.0.0.1] [--port 0] [--base URL]
 *
 * `--base` is the URL clients reach it at (a delay line in front of it has another address);
 * prints `listening <url>` once ready.
 */
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs, promisify } from 'node:util'
import { gzip } from 'node:zlib'
import { MIRROR_PLACEHOLDER, packumentFile, tarballFile } from './lib/mirror-fill.ts'

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    base: { type: 'string' },
  },
})
if (values.dir === undefined) {
  process.stderr.write('mirror-server: --dir is required\n')
  process.exit(1)
}
const dir = values.dir
let base = ''
const gzipAsync = promisify(gzip)

interface Packument { etag: string, plain: Buffer, gzipped: Buffer }
/** Packuments as served (base URL filled in), with their gzipped form, built on first request. */
const packuments = new Map<string, Promise<Packument>>()
function packument (name: string): Promise<Packument> {
  let p = packuments.get(name)
  if (p === undefined) {
    p = (async () => {
      const plain = Buffer.from((await readFile(packumentFile(dir, name), 'utf8')).replaceAll(MIRROR_PLACEHOLDER, base))
      return { etag: `"${createHash('sha1').update(plain).digest('hex')}"`, plain, gzipped: await gzipAsync(plain) }
    })()
    p.catch(() => packuments.delete(name))
    packuments.set(name, p)
  }
  return p
}

const server = createServer({ keepAlive: true }, (req, res) => {
  const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/').replace(/^\/+/, '')
  const notFound = (): void => {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}')
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return notFound()
  if (/^(@[^/]+\/)?[^/@]+\/-\/[^/]+\.tgz$/.test(path)) {
    const file = tarballFile(dir, path)
    stat(file).then((s) => {
      const etag = `"${s.size}-${s.mtimeMs}"`
      if (req.headers['if-none-match'] === etag) return res.writeHead(304, { etag }).end()
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': s.size, etag })
      if (req.method === 'HEAD') return res.end()
      createReadStream(file).pipe(res)
    }, notFound)
    return
  }
  if (/^(@[^/]+\/)?[^/@]+$/.test(path)) {
    packument(path).then((p) => {
      if (req.headers['if-none-match'] === p.etag) return res.writeHead(304, { etag: p.etag }).end()
      const gz = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '')
      const body = gz ? p.gzipped : p.plain
      res.writeHead(200, {
        'content-type': 'application/vnd.npm.install-v1+json',
        'content-length': body.length,
        etag: p.etag,
        vary: 'accept-encoding',
        ...(gz ? { 'content-encoding': 'gzip' } : {}),
      })
      res.end(req.method === 'HEAD' ? undefined : body)
    }, notFound)
    return
  }
  notFound()
})
server.listen(Number(values.port), values.host, () => {
  const { port } = server.address() as AddressInfo
  base = values.base ?? `http://${values.host}:${port}/`
  process.stdout.write(`listening ${base}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
