// Bundles src/ into dist/ with esbuild. npm's libraries (the production dependencies) stay
// external: they are what npm itself runs. Everything else, the Helia/libp2p stack above all, is
// bundled into lazily imported chunks, so `ipfs-npm run test` loads none of it and an installed
// ipfs-npm needs none of those packages (nor react-native, which they drag in) on disk.
import { build } from 'esbuild'
import { readFileSync, rmSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const external = Object.keys(pkg.dependencies ?? {}).flatMap((name) => [name, `${name}/*`])

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true })
await build({
  entryPoints: { cli: 'src/cli.ts', 'npm-pack-hook': 'src/npm-pack-hook.ts', 'extract-worker': 'src/extract/worker.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  external,
  sourcemap: 'linked',
  // some bundled CommonJS dependencies call require(); give ESM chunks one
  banner: { js: "import { createRequire as __ipfsNpmCreateRequire } from 'node:module'; const require = __ipfsNpmCreateRequire(import.meta.url);" },
  logLevel: 'warning',
})
