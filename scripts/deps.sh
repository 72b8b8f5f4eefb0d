#!/bin/sh
# Installs the Debian 12 packages Pivotal needs to build, test and run.
# Used by `make run` and `make test`; does nothing when everything is present.
# Root runs apt-get directly; a normal user goes through sudo.
set -eu

PACKAGES="
  build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
  liblmdb-dev lmdb-utils libmsgpack-dev libcjson-dev libjwt-dev
  libsodium-dev libuv1-dev libcurl4-openssl-dev libpq-dev
  postgresql postgresql-contrib node-llhttp wrk
  libidn2-dev libpsl-dev publicsuffix libutf8proc-dev libphonenumber-dev
  libyaml-dev libcsv-dev
"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
