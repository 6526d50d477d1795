#!/usr/bin/env bash
# Builds the worked example's small, real packages with rpmbuild and dpkg-deb and puts each in
# releases/<component>/<version>/packages/. The results are committed, so the demo needs no build
# tools; run this only to change them. Builds are made reproducible (fixed times, sorted files).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1767225600  # 2026-01-01

# Where packages go: releases/<component>/<version>/packages/, or with --test-fixtures the
# tests' own packages (a newer arc-ce for the obsoleting test) in tests/data/packages/.
fixtures=${1:-}
dest() { if [ "$fixtures" = --test-fixtures ]; then echo "$top/tests/data/packages"; else echo "$top/releases/$1/$2/packages"; fi; }

# rpm NAME VERSION RELEASE COMPONENT RELEASE_DIR_VERSION
rpm_pkg() {
  local name=$1 version=$2 release=$3 component=$4 dir=$5
  mkdir -p "$work/rpm/SPECS"
  cat > "$work/rpm/SPECS/$name.spec" <<SPEC
Name: $name
Version: $version
Release: $release
Summary: $name, a worked-example package of the staged-rollout controller
License: Apache-2.0
BuildArch: noarch
%description
A tiny package standing in for $component in the controller's worked example.
%install
mkdir -p %{buildroot}/usr/share/$name
echo "$name $version-$release" > %{buildroot}/usr/share/$name/VERSION
%files
/usr/share/$name/VERSION
SPEC
  rpmbuild -bb --quiet --define "_topdir $work/rpm" --define "use_source_date_epoch_as_buildtime 1" \
    --define "clamp_mtime_to_source_date_epoch 1" --define "_buildhost example.invalid" \
    "$work/rpm/SPECS/$name.spec" >/dev/null
  mkdir -p "$(dest "$component" "$dir")"
  cp "$work/rpm/RPMS/noarch/$name-$version-$release.noarch.rpm" "$(dest "$component" "$dir")/"
}

# deb NAME VERSION COMPONENT RELEASE_DIR_VERSION
deb_pkg() {
  local name=$1 version=$2 component=$3 dir=$4 root="$work/deb/$1"
  mkdir -p "$root/DEBIAN" "$root/usr/share/$name"
  echo "$name $version" > "$root/usr/share/$name/VERSION"
  cat > "$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: all
Maintainer: Worked Example <example@example.invalid>
Description: $name, a worked-example package of the staged-rollout controller
 A tiny package standing in for $component in the controller's worked example.
CONTROL
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  mkdir -p "$(dest "$component" "$dir")"
  dpkg-deb --root-owner-group -Zxz --build "$root" "$(dest "$component" "$dir")/${name}_${version}_all.deb" >/dev/null
}

if [ "$fixtures" = --test-fixtures ]; then
  rpm_pkg arc-ce 6.19.1 1.el9 arc-ce 6.19.1
  deb_pkg arc-ce 6.19.1-1 arc-ce 6.19.1
  echo "built into tests/data/packages/"
  exit 0
fi
rpm_pkg argus-pap 1.7.3 1.el9 argus 1.7.3
rpm_pkg argus-pep 1.7.3 1.el9 argus 1.7.3
rpm_pkg argus-pap 1.7.4 1.el9 argus 1.7.4
rpm_pkg argus-pep 1.7.4 1.el9 argus 1.7.4
rpm_pkg arc-ce 6.19.0 1.el9 arc-ce 6.19.0
deb_pkg arc-ce 6.19.0-1 arc-ce 6.19.0
rpm_pkg unicore-server 9.2.1 1.el9 unicore-server 9.2.1
rpm_pkg nagios-plugins-egi 2.3.0 1.el9 nagios-plugins-egi 2.3.0
rpm_pkg ca-policy-egi 1.131 1.el9 ca-policy-egi 1.131
deb_pkg ca-policy-egi 1.131-1 ca-policy-egi 1.131
echo "built into releases/*/*/packages/"
