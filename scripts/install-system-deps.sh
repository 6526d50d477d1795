#!/usr/bin/env bash
# Installs the Debian packages the controller and its tests use, when they are missing:
# git (repositories), gnupg (signatures), rpm/rpmbuild, dnf, createrepo-c, dpkg-dev and
# apt-utils (package tools and the real clients the tests run), dnf-plugins-core (dnf's
# repoclosure, for the installability check), shellcheck (actionlint checks
# the workflows' shell steps with it), chromium and a font (the tests look at the pages in a real
# browser). Needs root to install;
# otherwise it says what is missing and stops.
set -euo pipefail
declare -A need=(
  [git]=git [gpg]=gnupg [rpm]=rpm [rpmbuild]=rpm [rpmsign]=rpm [dnf]=dnf [createrepo_c]=createrepo-c
  [dpkg-deb]=dpkg [dpkg-scanpackages]=dpkg-dev [apt-ftparchive]=apt-utils [shellcheck]=shellcheck [systemd-analyze]=systemd
  [chromium]=chromium
)
missing=()
for tool in "${!need[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${need[$tool]}")
done
# repoclosure is a dnf plugin, not a command of its own.
[ -e /usr/lib/python3/dist-packages/dnf-plugins/repoclosure.py ] || missing+=(dnf-plugins-core)
# chromium only recommends its fonts; without one, screenshots show boxes instead of text.
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
[ ${#missing[@]} -eq 0 ] && exit 0
packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: $packages" >&2
  echo "install them with: sudo apt-get install -y $packages" >&2
  exit 1
fi
echo "installing Debian packages: $packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $packages >/dev/null
