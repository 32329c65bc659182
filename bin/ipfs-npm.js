#!/usr/bin/env node
// Checked before anything else loads: our bundle needs what Node.js 22.22 brought.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 22) || (major === 24 && minor < 15) || major === 23 || major === 25) {
  process.stderr.write(`ipfs-npm: Node.js ${process.version} is not supported; it needs ^22.22.2 || ^24.15.0 || >=26 (as npm does)\n`)
  process.exit(1)
}
await import('../dist/cli.js')
