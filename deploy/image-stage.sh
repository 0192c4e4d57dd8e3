#!/usr/bin/env bash
# deploy/image-stage.sh BUILD-DIR OUT-DIR - collects what the runtime image
# holds, for deploy/Dockerfile (from its build stage) and for the
# end-to-end suite (from a build on the machine, same Debian release):
#   OUT/bin/               the five programs
#   OUT/runtime-packages   the Debian packages their shared libraries come
#                          from (found with ldd and dpkg, so the list follows
#                          the build and is never kept by hand)
#   OUT/kube/              the deploy scripts and systemd units
#   OUT/image-install.sh   run inside the image to put it all in place
set -euo pipefail
DEPLOY=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
# shellcheck source=lib/common.sh
source "$DEPLOY/lib/common.sh"
build=${1:?usage: image-stage.sh BUILD-DIR OUT-DIR}
out=${2:?usage: image-stage.sh BUILD-DIR OUT-DIR}
rm -rf "$out"
mkdir -p "$out/bin" "$out/kube"
for p in "${KUBE_PROGRAMS[@]}"; do
  src=$build/$(kube_build_path "$p")
  [[ -x "$src" ]] || { echo "image-stage.sh: $src is missing" >&2; exit 1; }
  install -m 0755 "$src" "$out/bin/$p"
done
# shared libraries -> owning packages (the multiarch name, e.g. libssl3:amd64 -> libssl3)
libs=$(for b in "$out"/bin/*; do ldd "$b"; done | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u)
missing=$(for b in "$out"/bin/*; do ldd "$b"; done | awk '/not found/ {print $1}' | sort -u)
[[ -z "$missing" ]] || { echo "image-stage.sh: libraries not found: $missing" >&2; exit 1; }
for l in $libs; do
  dpkg -S "$l" 2>/dev/null || dpkg -S "$(readlink -f "$l")" 2>/dev/null ||
    dpkg -S "/usr$l" 2>/dev/null || { echo "image-stage.sh: no package owns $l" >&2; exit 1; }
done | cut -d: -f1 | sort -u >"$out/runtime-packages"
cp -r "$DEPLOY/lib" "$DEPLOY/systemd" "$out/kube/"
for f in cluster-config.sh install-deps.sh kube-container.sh kube-init.sh kube-join.sh unit-run.sh; do
  [[ -f "$DEPLOY/$f" ]] && install -m 0755 "$DEPLOY/$f" "$out/kube/$f"
done
install -m 0755 "$DEPLOY/image-install.sh" "$out/image-install.sh"
