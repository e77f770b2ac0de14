#!/usr/bin/env bash
# Makes sure command CMD exists, installing Debian package PACKAGE when it does not
# and this shell may (root with apt-get); otherwise fails naming what to install.
#
#   scripts/need-debian-package.sh CMD PACKAGE TAG     (TAG prefixes the messages)
set -euo pipefail
cmd=$1 package=$2 tag=$3
command -v "$cmd" >/dev/null && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[$tag] installing $package (Debian package, once)" >&2
  apt-get update -qq && apt-get install -y -qq "$package" >/dev/null
else
  echo "[$tag] error: $cmd is missing; install it (Debian: apt-get install $package)" >&2
  exit 1
fi
