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
# one dpkg query for every library under each name it may be known by
# (/lib and /usr/lib are one directory on a merged-/usr system)
declare -A names
for l in $libs; do
  r=$(readlink -f "$l")
  for c in "$l" "$r" "/usr$l" "/usr$r" "${l#/usr}" "${r#/usr}"; do names[$c]=$l; done
done
# (what `dpkg -S` answers, read from dpkg's file lists in one pass)
# shellcheck disable=SC2062
owners=$(printf '%s\n' "${!names[@]}" | grep -xF -f - /var/lib/dpkg/info/*.list |
  sed -E 's|^/var/lib/dpkg/info/([^:]+)(:[a-z0-9]+)?\.list:|\1: |' || true)
for l in $libs; do
  found=""
  for c in "${!names[@]}"; do
    [[ "${names[$c]}" == "$l" ]] || continue
    p=$(awk -v f="$c" '{ i = index($0, ": "); if (substr($0, i + 2) == f) print substr($0, 1, i - 1) }' <<<"$owners" | head -1)
    [[ -n "$p" ]] && { found=$p; break; }
  done
  [[ -n "$found" ]] || { echo "image-stage.sh: no package owns $l" >&2; exit 1; }
  echo "${found%%:*}"
done | tr ',' '\n' | sed 's/^ *//' | sort -u >"$out/runtime-packages"
cp -r "$DEPLOY/lib" "$DEPLOY/systemd" "$out/kube/"
for f in cluster-config.sh install-deps.sh kube-container.sh kube-init.sh kube-join.sh unit-run.sh; do
  [[ -f "$DEPLOY/$f" ]] && install -m 0755 "$DEPLOY/$f" "$out/kube/$f"
done
install -m 0755 "$DEPLOY/image-install.sh" "$out/image-install.sh"
