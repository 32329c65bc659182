#!/usr/bin/env bash
# The README's first command: from a clone, leaves a working `ipfs-npm` on the PATH of every new
# shell. Puts a supported Node beside the checkout when the machine's is older (.ci/use-node.sh),
# installs and builds, then links the launcher (bin/ipfs-npm.js, which runs that Node when the
# shell's own is too old) into the bin folder of the machine's own npm — the one on PATH in a new
# shell — or, when that folder is not writable, into ~/.local/bin, saying what to add to PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# asked before use-node.sh changes PATH: where the machine's npm puts global commands
machine_prefix=$(npm prefix -g)
. .ci/use-node.sh
npm ci --no-audit --no-fund
if [ -w "$machine_prefix/bin" ] && [ -w "$machine_prefix" ]; then
  # the env var, not --prefix: on the command line --prefix would also move the package being linked
  npm_config_prefix="$machine_prefix" npm link --no-audit --no-fund --ignore-scripts >/dev/null
  where="$machine_prefix/bin"
else
  where="$HOME/.local/bin"
  mkdir -p "$where"
  ln -sfn "$root/bin/ipfs-npm.js" "$where/ipfs-npm"
fi
echo "ipfs-npm $(node -p 'require("./package.json").version') is $where/ipfs-npm"
case ":$PATH:" in
  *":$where:"*) echo "open a new shell (or run it here) and try: ipfs-npm help ipfs" ;;
  *) echo "$where is not on your PATH; add this line to ~/.profile (or ~/.bashrc), then open a new shell:"
     echo "  export PATH=\"$where:\$PATH\"" ;;
esac
