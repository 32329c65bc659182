/**
 * What `ipfs-npm serve` shows of itself: the status page in a real headless Chromium (Debian's
 * `chromium`, which .ci/run installs), `GET /-/ipfs-npm/status`, and `ipfs-npm status`, after a
 * client (asking as pnpm does) fetched a packument and a tarball through it.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { startRegistry, type TestRegistry } from './helpers/registry.ts'
import { runCommand } from './helpers/run-command.ts'
import { ipfsNpmBin } from './reliability/helpers.ts'
import { startServe, type ServeProcess } from './helpers/serve.ts'
import { tempDir } from './helpers/temp-dir.ts'

const CHROMIUM = '/usr/bin/chromium'
const PNPM_AGENT = 'pnpm/10.34.9 npm/? node/v24.15.0 linux x64'
const DEAD_PEER = '/ip4/127.0.0.1/tcp/1'

let upstream: TestRegistry
let work: string
let serve: ServeProcess

/** Runs headless Chromium on `url` with a fresh profile and no network extras; resolves to stdout. */
async function chromium (args: string[]): Promise<string> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: .ci/run installs Debian's chromium (apt-get install -y chromium)`)
  const profile = await mkdtemp(join(work, 'chromium-'))
  const result = await runCommand(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, ...args,
  ], { cwd: work, timeoutMs: 60_000 })
  assert.equal(result.code, 0, result.stderr)
  return result.stdout
}

before(async () => {
  upstream = await startRegistry()
  work = await tempDir('serve-status')
  const userconfig = join(work, 'npmrc')
  await writeFile(userconfig, `registry=${upstream.url}\naudit=false\nfund=false\nupdate-notifier=false\n`)
  // a --peer nobody listens at, without /p2p/: both said once, as npm warnings
  serve = await startServe({ cwd: work, args: ['--userconfig', userconfig, '--cache', join(work, 'cache'), '--loglevel', 'http', '--peer', DEAD_PEER] })
  const packument = await fetch(`${serve.url}alpha`, { headers: { 'user-agent': PNPM_AGENT } })
  const doc = await packument.json() as { versions: Record<string, { dist: { tarball: string } }> }
  const tarball = await fetch(doc.versions['1.0.0'].dist.tarball, { headers: { 'user-agent': PNPM_AGENT } })
  assert.equal(tarball.status, 200)
  await tarball.arrayBuffer()
})

after(async () => {
  await serve?.stop()
  await upstream?.stop()
  await rm(work, { recursive: true, force: true })
})

test('the status page, in headless Chromium: the node, what was served to whom, the cache, and nothing fetched from elsewhere', async () => {
  const status = await (await fetch(`${serve.url}-/ipfs-npm/status`)).json() as { node: { peerId: string } }
  const before = serve.output.split('\n').length
  const dom = await chromium(['--dump-dom', serve.url])
  const text = (id: string): string | undefined => new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(dom)?.[1]
  assert.equal(text('peer-id'), status.node.peerId)
  assert.equal(text('registry'), serve.url)
  assert.equal(text('served-tarballs'), '1')
  assert.match(dom, /<tr data-key="pnpm"><th>pnpm<\/th><td>1<\/td>/)
  assert.match(dom, /<tr data-key="registry"><th>registry<\/th><td>1<\/td>/)
  assert.equal(text('cache-tarballs'), '1')
  assert.match(dom, /<svg id="history"[^>]*>.*<rect class="all"/s)
  assert.doesNotMatch(dom, /(src|href)="(https?:)?\/\//, 'no external asset')
  // the only request Chromium made of serve was the page itself
  const requests = serve.output.split('\n').slice(before).filter((line) => /http serve /.test(line))
  assert.deepEqual(requests.map((line) => /serve (GET \d+ \S+)/.exec(line)?.[1]), ['GET 200 /'])

  const png = join(work, 'status.png')
  await chromium(['--screenshot=' + png, '--window-size=1000,900', serve.url])
  assert.ok((await stat(png)).size > 10_000, 'a screenshot with something drawn in it')
  if (process.env.IPFS_NPM_KEEP_SCREENSHOT !== undefined) await writeFile(process.env.IPFS_NPM_KEEP_SCREENSHOT, await readFile(png))
  assert.deepEqual([...(await readFile(png)).subarray(1, 4)], [...Buffer.from('PNG')])
})

test('a --peer that cannot be reached, and one without /p2p/, are each said once as npm warnings', async () => {
  const warnings = (): string[] => serve.output.split('\n').filter((line) => line.startsWith('npm warn '))
  // the dial runs beside serve's start; a refused connection fails at once
  for (let waited = 0; warnings().length < 2 && waited < 10_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100))
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.deepEqual(warnings().map((line) => line.replace(/: connection error .*/, ': …')), [
    `npm warn ipfs --peer ${DEAD_PEER} has no /p2p/<peer id>: whichever node answers there is taken for the peer`,
    `npm warn ipfs cannot reach --peer ${DEAD_PEER}: …`,
  ])
})

test('a web page on another site still cannot use the registry through the browser', async () => {
  const res = await fetch(`${serve.url}alpha`, { headers: { 'sec-fetch-site': 'cross-site', origin: 'https://example.invalid' } })
  assert.equal(res.status, 403)
})

test('ipfs-npm status prints the same for the running serve; without one, a one-line error', async () => {
  const port = String(serve.port)
  const result = await runCommand(process.execPath, [ipfsNpmBin, 'status', '--port', port], { cwd: work })
  assert.equal(result.code, 0, result.stderr)
  const status = await (await fetch(`${serve.url}-/ipfs-npm/status`)).json() as { node: { peerId: string } }
  assert.match(result.stdout, new RegExp(`^peer ${status.node.peerId}$`, 'm'))
  assert.match(result.stdout, /^served over HTTP: 1 tarball, .*; 0 B \(0 tarballs\) not from the registry$/m)
  assert.match(result.stdout, /^ {2}to pnpm: 1 tarball, /m)
  assert.match(result.stdout, /^cache: 1 tarball, /m)

  const json = await runCommand(process.execPath, [ipfsNpmBin, 'status', '--port', port, '--json'], { cwd: work })
  assert.equal((JSON.parse(json.stdout) as { http: { tarballs: number } }).http.tarballs, 1)

  await serve.stop()
  const none = await runCommand(process.execPath, [ipfsNpmBin, 'status', '--port', port], { cwd: work })
  assert.equal(none.code, 1)
  assert.match(none.stderr, /^npm error code ENOSERVE$/m)
  assert.match(none.stderr, new RegExp(`no ipfs-npm serve answers on 127\\.0\\.0\\.1:${port}`))
})

test('our identity and usage: --version stays npm\'s, version-ipfs and serve --version are ours, help ipfs lists ours, a typo is EUSAGE', async () => {
  const ours = async (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> => runCommand(process.execPath, [ipfsNpmBin, ...args], { cwd: work })
  const npmVersion = (await runCommand('npm', ['--version'], { cwd: work })).stdout.trim()
  const version = (JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
  assert.equal((await ours(['--version'])).stdout.trim(), npmVersion)
  assert.equal((await ours(['version-ipfs'])).stdout.trim(), version)
  assert.equal((await ours(['serve', '--version'])).stdout.trim(), version)
  const help = await ours(['help', 'ipfs'])
  assert.equal(help.code, 0)
  for (const name of ['serve', 'status', 'version-ipfs', '--peer <multiaddr>', '--port <port>']) assert.ok(help.stdout.includes(name), name)
  const usage = await ours(['serve', '--help'])
  assert.equal(usage.code, 0)
  assert.match(usage.stdout, /^Usage:\nipfs-npm serve$/m)
  const typo = await ours(['serve', '--prot', '9696'])
  assert.equal(typo.code, 1)
  assert.match(typo.stderr, /^npm error code EUSAGE$/m)
  assert.match(typo.stderr, /^npm error Unknown flag: --prot$/m)
})
