#!/usr/bin/env bash
# Fetches Debian trixie's etcd 3.5 (etcd-server, etcd-client) into .etcd/3.5/ in this project, beside the
# system's etcd 3.4 (bookworm), which stays untouched: apt reads a sources list, package lists, cache and an
# empty dpkg status of its own under .etcd/apt/, and `dpkg-deb -x` unpacks without installing.
#
#   scripts/fetch-etcd.sh            fetch once; a later run keeps what is there (no network)
#   scripts/fetch-etcd.sh --update   fetch again if trixie serves a newer package
#
# Afterwards: .etcd/3.5/usr/bin/{etcd,etcdctl,etcdutl}, and .etcd/3.5/PACKAGE-VERSION.
set -euo pipefail

SUITE_LINE='deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main'
PACKAGES=(etcd-server etcd-client)
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BASE="$ROOT/.etcd"
TARGET="$BASE/3.5"
APT="$BASE/apt"

fail() {
  echo "fetch-etcd: $*" >&2
  exit 1
}

update=false
case "${1:-}" in
  '') ;;
  --update) update=true ;;
  *) fail "unknown argument '$1'; usage: scripts/fetch-etcd.sh [--update]" ;;
esac

for tool in apt-get apt-cache dpkg-deb; do
  command -v "$tool" >/dev/null || fail "$tool not found: this script needs Debian's apt and dpkg"
done
[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || fail "/usr/share/keyrings/debian-archive-keyring.gpg is missing (apt-get install debian-archive-keyring)"

if [ -x "$TARGET/usr/bin/etcd" ] && [ -f "$TARGET/PACKAGE-VERSION" ] && ! $update; then
  echo "fetch-etcd: etcd $(cat "$TARGET/PACKAGE-VERSION") already in $TARGET (scripts/fetch-etcd.sh --update fetches trixie's newest)"
  exit 0
fi

mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/debs"
echo "$SUITE_LINE" >"$APT/sources.list"
: >"$APT/status"
# Only this project's files: its own sources, lists, cache, and an empty dpkg status so the system's installed
# etcd 3.4 neither hides trixie's candidate nor gets replaced. Root downloads without the _apt sandbox user,
# which cannot write into a work tree.
APT_OPTIONS=(
  -o "Dir::Etc::sourcelist=$APT/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$APT/lists"
  -o "Dir::Cache=$APT/cache" -o "Dir::State::status=$APT/status" -o "APT::Sandbox::User=$(id -un)"
)

echo "fetch-etcd: reading Debian trixie's package list"
apt-get "${APT_OPTIONS[@]}" -qq update || fail "apt-get update of trixie failed (is deb.debian.org reachable?)"

version=$(apt-cache "${APT_OPTIONS[@]}" show --no-all-versions etcd-server | sed -n 's/^Version: //p')
[ -n "$version" ] || fail "trixie lists no etcd-server package"
if [ -f "$TARGET/PACKAGE-VERSION" ] && [ "$(cat "$TARGET/PACKAGE-VERSION")" = "$version" ] && [ -x "$TARGET/usr/bin/etcd" ]; then
  echo "fetch-etcd: etcd $version already in $TARGET, and it is trixie's newest"
  exit 0
fi

echo "fetch-etcd: downloading ${PACKAGES[*]} $version"
rm -f "$APT/debs/"*.deb
(cd "$APT/debs" && apt-get "${APT_OPTIONS[@]}" -qq download "${PACKAGES[@]/%/=$version}") || fail "apt-get download of ${PACKAGES[*]} $version failed"

staging="$BASE/3.5.partial"
rm -rf "$staging"
mkdir -p "$staging"
for deb in "$APT/debs/"*.deb; do
  echo "fetch-etcd: unpacking $(basename "$deb")"
  dpkg-deb -x "$deb" "$staging"
done
for binary in etcd etcdctl etcdutl; do
  [ -x "$staging/usr/bin/$binary" ] || fail "the packages hold no usr/bin/$binary"
done
# The binaries must run here (bookworm's libc), and say they are 3.5.
reported=$("$staging/usr/bin/etcd" --version) || fail "$staging/usr/bin/etcd does not run on this machine"
case "$reported" in
  *"etcd Version: 3.5."*) ;;
  *) fail "trixie's etcd reports '$reported', not 3.5" ;;
esac
echo "$version" >"$staging/PACKAGE-VERSION"
rm -rf "$TARGET"
mv "$staging" "$TARGET"
rm -f "$APT/debs/"*.deb
echo "fetch-etcd: etcd $version in $TARGET/usr/bin: $("$TARGET/usr/bin/etcd" --version | sed -n 's/^etcd Version: //p'), etcdctl and etcdutl"
