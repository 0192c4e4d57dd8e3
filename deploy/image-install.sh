#!/bin/sh
# deploy/image-install.sh - runs inside the image build with the directory
# made by image-stage.sh: installs the runtime libraries' packages, the
# programs into /usr/local/bin, the deploy scripts into /usr/local/lib/kube
# (with kube-join, kube-init, kube-container and unit-run on PATH), then
# removes the staging directory.
set -eu
stage=$(cd "$(dirname "$0")" && pwd)
apt-get update -qq
# shellcheck disable=SC2046
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(cat "$stage/runtime-packages") >/dev/null
rm -rf /var/lib/apt/lists/*
install -m 0755 "$stage"/bin/* /usr/local/bin/
rm -rf /usr/local/lib/kube
mkdir -p /usr/local/lib
cp -r "$stage/kube" /usr/local/lib/kube
for f in kube-join kube-init kube-container unit-run; do
  [ -f "/usr/local/lib/kube/$f.sh" ] && ln -sf "/usr/local/lib/kube/$f.sh" "/usr/local/bin/$f"
done
rm -rf "$stage"
