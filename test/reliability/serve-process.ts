/**
 * A real `ipfs-npm serve` process for the reliability tests: started on a free loopback port
 * with the IPFS node on loopback only, its output collected, stopped (SIGTERM, then SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { cleanEnv, stopChild } from '../helpers/run-command.ts'
import { ipfsNpmBin } from './helpers.ts'

export interface ServeProcess {
  child: ChildProcess
  port: number
  /** `http://127.0.0.1:PORT/` */
  url: string
  /** The peer's multiaddr on loopback, with `/p2p/…`. */
  peerAddress: string
  /** Everything printed so far (stdout and stderr). */
  output(): string
  /** Peak resident memory so far, in MiB (VmHWM). */
  peakRssMiB(): Promise<number>
  stop(): Promise<void>
}

/** A port free on 127.0.0.1 right now. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

export async function startServe (init: { cwd: string, args: string[], timeoutMs?: number }): Promise<ServeProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, [ipfsNpmBin, 'serve', '--port', String(port), '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', ...init.args], {
    cwd: init.cwd,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr.on('data', (c: Buffer) => { output += c.toString() })
  const deadline = Date.now() + (init.timeoutMs ?? 20_000)
  while (!/listening on \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\S+/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`ipfs-npm serve did not start (exit ${child.exitCode}):\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const peerAddress = /listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\S+)/.exec(output)![1]!
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}/`,
    peerAddress,
    output: () => output,
    async peakRssMiB () {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8')
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
    },
    stop: () => stopChild(child),
  }
}
