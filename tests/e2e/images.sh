# shellcheck shell=bash disable=SC2034
# tests/e2e/images.sh - what a registry would have given, made locally
# (sourced by the end-to-end tests; also runnable: `bash tests/e2e/images.sh`
# prepares everything once).
#
# - debian:bookworm-slim: when the machine's runtime has no such image, a
#   Debian made with `debootstrap --variant=minbase` is imported under that
#   name.  The debootstrap output is cached as a tarball under
#   _out/e2e/cache/, so only the first run on a machine pays the minute.
# - kube-e2e/busybox:1.35: Debian's busybox-static with its applet links.
# - kube-e2e/echo:1 and :2: busybox plus tests/e2e/images/echo-server.c
#   (static), which answers "POD-NAME VERSION PATH"; two tags so a rolling
#   update is visible.
#   Each test image carries a label with the hash of what it was made from
#   and is made again when that changes.
# - The pause image is the kubelet's own business: it imports its built-in
#   pause program when the image is missing.
#
# e2e_load_images CONTAINER IMAGE... puts images into the runtime inside a
# node container, the way `kind load docker-image` does (docker save |
# docker exec -i NODE docker load).
#
# Images live in the shared host runtime under names no one else uses
# (kube-e2e/...); debian:bookworm-slim is only ever added, never replaced.

E2E_ROOT=${E2E_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
E2E_CACHE=${E2E_CACHE:-$E2E_ROOT/_out/e2e/cache}
BUSYBOX_IMAGE=kube-e2e/busybox:1.35
ECHO_IMAGE_1=kube-e2e/echo:1
ECHO_IMAGE_2=kube-e2e/echo:2
E2E_TEST_IMAGES=("$BUSYBOX_IMAGE" "$ECHO_IMAGE_1" "$ECHO_IMAGE_2")

_img_log() { printf '[images] %s\n' "$*" >&2; }

# The machine's own Debian mirror (from its apt sources), for debootstrap.
apt_mirror() {
  local m
  m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
  [[ -n "$m" ]] || m=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "$m"
}

# ensure_debian_base: debian:bookworm-slim present in the runtime.
ensure_debian_base() {
  docker image inspect debian:bookworm-slim >/dev/null 2>&1 && return 0
  local tarball=$E2E_CACHE/debian-bookworm-minbase.tar
  mkdir -p "$E2E_CACHE"
  if [[ ! -s "$tarball" ]]; then
    command -v debootstrap >/dev/null || { _img_log "debootstrap is missing (deploy/install-deps.sh --test)"; return 1; }
    local dir
    dir=$(mktemp -d "$E2E_CACHE/debootstrap.XXXXXX")
    _img_log "debootstrap --variant=minbase bookworm (about a minute, once)"
    # shellcheck disable=SC2046
    if ! debootstrap --variant=minbase bookworm "$dir" $(apt_mirror) >"$E2E_CACHE/debootstrap.log" 2>&1; then
      _img_log "debootstrap failed; see $E2E_CACHE/debootstrap.log"
      rm -rf "$dir"
      return 1
    fi
    # what the official slim image leaves out
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/tmp/*
    tar -C "$dir" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
  fi
  _img_log "importing debian:bookworm-slim from $tarball"
  docker import -c 'CMD ["bash"]' "$tarball" debian:bookworm-slim >/dev/null
}

# _img_hash FILE...: a short hash of the inputs of an image
_img_hash() { cat "$@" | sha256sum | cut -c1-16; }

_img_current() { # IMAGE HASH: the image exists and was made from HASH
  [[ "$(docker image inspect -f '{{index .Config.Labels "kube-e2e.hash"}}' "$1" 2>/dev/null)" == "$2" ]]
}

# _busybox_root DIR: a root file system with busybox and its applets
_busybox_root() {
  local d=$1 a
  mkdir -p "$d/bin" "$d/etc" "$d/tmp" "$d/root" "$d/var/www"
  cp /bin/busybox "$d/bin/busybox"
  for a in $(/bin/busybox --list); do [[ "$a" != busybox ]] && ln -sf busybox "$d/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$d/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$d/etc/group"
  chmod 1777 "$d/tmp"
}

# ensure_test_images: busybox and the two echo images in the runtime
ensure_test_images() {
  local src=$E2E_ROOT/tests/e2e/images/echo-server.c
  local hash
  hash=$(_img_hash /bin/busybox "$src" "${BASH_SOURCE[0]}")
  local work
  work=$(mktemp -d /tmp/kube-e2e-img.XXXXXX)
  if ! _img_current "$BUSYBOX_IMAGE" "$hash"; then
    _img_log "building $BUSYBOX_IMAGE"
    _busybox_root "$work/bb"
    tar -C "$work/bb" --numeric-owner -c . |
      docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' -c "LABEL kube-e2e.hash=$hash" - "$BUSYBOX_IMAGE" >/dev/null ||
      { rm -rf "$work"; return 1; }
  fi
  local v img
  for v in 1 2; do
    img=kube-e2e/echo:$v
    _img_current "$img" "$hash" && continue
    _img_log "building $img"
    rm -rf "$work/echo"
    _busybox_root "$work/echo"
    if ! cc -static -O2 -Wall -Wextra -Werror -o "$work/echo/echo-server" "$src"; then
      rm -rf "$work"
      return 1
    fi
    tar -C "$work/echo" --numeric-owner -c . |
      docker import -c 'ENTRYPOINT ["/echo-server"]' -c 'CMD ["8080"]' -c 'ENV PATH=/bin' \
        -c "ENV ECHO_VERSION=$v" -c 'EXPOSE 8080' -c "LABEL kube-e2e.hash=$hash" - "$img" >/dev/null ||
      { rm -rf "$work"; return 1; }
  done
  rm -rf "$work"
}

# e2e_load_images CONTAINER IMAGE...: load images into a node's runtime
e2e_load_images() {
  local ctr=$1; shift
  docker save "$@" | docker exec -i "$ctr" docker load >/dev/null
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  ensure_debian_base
  ensure_test_images
  docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^(debian:bookworm-slim|kube-e2e/)'
fi
