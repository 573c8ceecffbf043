#!/usr/bin/env bash
# Build (once) a cached Arch-like root with a real pacman database, then
# print its path. Arch mirrors are out of reach, so the packages are real
# pacman packages that makepkg builds (as an unprivileged user) from real
# binaries of the cached Debian bookworm root: GNU coreutils, bash, glibc and
# the shared libraries they need, and uutils' multicall binary from the
# rust-coreutils .deb laid out as Arch's uutils-coreutils does
# (/usr/bin/uu-coreutils + /usr/bin/uu-<cmd> links, nothing unprefixed).
# pacman itself (Debian's pacman-package-manager) goes into the root too, so
# the alpm hooks' `pkgswitch relink --hook` can query the database inside it.
#
# Layout of the root (usr-merged like Arch: /bin, /sbin, /lib, /lib64 and
# /usr/sbin are links into /usr):
#   /srv/repo/core.db…            the [core] repository (file:///srv/repo)
#   /srv/pkgs/coreutils-9.1-2-…   a newer coreutils, NOT in the repository,
#                                 for `pacman -U` upgrade tests
#   /etc/pacman.conf              [core] only, SigLevel = Never (unsigned fixture)
# Installed: filesystem glibc gcc-libs bookworm-libs bash coreutils pacman.
# uutils-coreutils is in [core] but not installed.
#   PKGSWITCH_ARCH_CACHE  cache dir (default /var/cache/pkgswitch/arch-root)
set -euo pipefail
cache=${PKGSWITCH_ARCH_CACHE:-/var/cache/pkgswitch/arch-root}
# Bump when the packages or the root change, so cached roots are rebuilt.
fixture_version=1
if [ "$(cat "$cache/.pkgswitch-ready" 2>/dev/null)" = "$fixture_version" ]; then echo "$cache"; exit 0; fi
here=$(cd "$(dirname "$0")" && pwd)
deb=$(bash "$here/make-root.sh")
for t in pacman makepkg repo-add zstd bsdtar fakeroot runuser; do
  command -v $t >/dev/null || { echo "make-arch-root: $t is missing (scripts/setup-pacman.sh installs it)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/pkgswitch-arch-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
stage="$work/stage"   # one directory per package, laid out as installed
mkdir -p "$stage"

# --- what goes into each package ------------------------------------------
libdir() { mkdir -p "$stage/$1/usr/lib"; }
# Copy a shared library (following links) from the Debian root into $1's /usr/lib.
addlib() { # pkg soname-path-in-debian-root
  local pkg=$1 src=$deb$2
  libdir "$pkg"
  [ -e "$stage/$pkg/usr/lib/$(basename "$2")" ] || cp -L "$src" "$stage/$pkg/usr/lib/$(basename "$2")"
}

# filesystem: the usr-merged skeleton Arch's filesystem package provides.
fs=$stage/filesystem
mkdir -p "$fs"/{usr/bin,usr/lib,usr/share,etc,var/lib,var/cache,var/log,tmp,dev,proc,sys,run,root,srv}
chmod 1777 "$fs/tmp"; chmod 700 "$fs/root"
ln -s usr/bin "$fs/bin"; ln -s usr/bin "$fs/sbin"; ln -s usr/lib "$fs/lib"; ln -s usr/lib "$fs/lib64"; ln -s bin "$fs/usr/sbin"
printf 'NAME="Arch Linux"\nPRETTY_NAME="Arch Linux (pkgswitch test fixture)"\nID=arch\nBUILD_ID=rolling\n' > "$fs/usr/lib/os-release"
ln -s ../usr/lib/os-release "$fs/etc/os-release"
printf 'root:x:0:0:root:/root:/usr/bin/bash\nnobody:x:65534:65534:Nobody:/:/usr/bin/nologin\n' > "$fs/etc/passwd"
printf 'root:x:0:root\nnobody:x:65534:\n' > "$fs/etc/group"

# Binaries that go into the root, from the Debian root (and pacman from the host).
coreutils_files=$(grep -E '^/(usr/)?s?bin/' "$deb/var/lib/dpkg/info/coreutils.list" | grep -v 'md5sum.textutils')
bins=""
for f in $coreutils_files; do [ -f "$deb$f" ] && [ ! -L "$deb$f" ] && bins+=" $deb$f"; done
bins+=" $deb/usr/bin/bash /usr/bin/pacman"
uu_deb=$(ls "$deb"/var/cache/apt/archives/rust-coreutils_*.deb | head -n1)
mkdir -p "$work/uu"; dpkg-deb -x "$uu_deb" "$work/uu"
bins+=" $work/uu/usr/bin/coreutils"

# Shared libraries every binary needs: glibc's own into glibc, libgcc_s into
# gcc-libs (as Arch splits them), the rest into bookworm-libs. Resolved by
# the host's ld.so against the Debian root's library directories.
glibc_libs=$(grep -E '^/(usr/)?lib/x86_64-linux-gnu/[^/]+\.so[.0-9]*$' "$deb/var/lib/dpkg/info/libc6:amd64.list")
for so in $glibc_libs; do addlib glibc "$so"; done
mkdir -p "$stage/glibc/usr/lib"
cp -L "$deb/lib64/ld-linux-x86-64.so.2" "$stage/glibc/usr/lib/ld-linux-x86-64.so.2"
for b in $bins; do
  LD_LIBRARY_PATH="$deb/lib/x86_64-linux-gnu:$deb/usr/lib/x86_64-linux-gnu" ldd "$b" | awk '/=> \//{print $3}' | while read -r lib; do
    name=$(basename "$lib")
    [ -e "$stage/glibc/usr/lib/$name" ] && continue
    case $name in libgcc_s.so.*) pkg=gcc-libs ;; *) pkg=bookworm-libs ;; esac
    mkdir -p "$stage/$pkg/usr/lib"
    [ -e "$stage/$pkg/usr/lib/$name" ] || cp -L "$lib" "$stage/$pkg/usr/lib/$name"
  done
done

# bash, and sh → bash as on Arch.
mkdir -p "$stage/bash/usr/bin"
cp -a "$deb/usr/bin/bash" "$stage/bash/usr/bin/bash"; ln -s bash "$stage/bash/usr/bin/sh"

# pacman (the host's Debian build: same version as the host's makepkg/repo-add).
mkdir -p "$stage/pacman/usr/bin"; cp -a /usr/bin/pacman "$stage/pacman/usr/bin/pacman"

# coreutils 9.1-1: every GNU command, in /usr/bin (Arch has no /usr/sbin/chroot).
mkdir -p "$stage/coreutils/usr/bin"
for f in $coreutils_files; do [ -f "$deb$f" ] && cp -a "$deb$f" "$stage/coreutils/usr/bin/"; done
# coreutils 9.1-2: the same binaries with a trailer (ELF ignores trailing
# bytes), so an upgrade really changes every file's SHA-256.
cp -a "$stage/coreutils" "$stage/coreutils-new"
for f in "$stage/coreutils-new/usr/bin/"*; do printf '\npkgswitch fixture coreutils 9.1-2\n' >> "$f"; done

# uutils-coreutils 0.0.17-1 as Arch lays it out: the multicall binary as
# uu-coreutils and one uu-<cmd> symlink per command it implements.
uu=$stage/uutils-coreutils
mkdir -p "$uu/usr/bin"
cp -a "$work/uu/usr/bin/coreutils" "$uu/usr/bin/uu-coreutils"
for l in "$work/uu/usr/lib/cargo/bin/coreutils/"*; do ln -s uu-coreutils "$uu/usr/bin/uu-$(basename "$l")"; done

# --- build each package with makepkg, as nobody ----------------------------
chmod -R a+rX "$stage"
mkdir -p "$work/out"; chown nobody "$work/out"
build() { # name version release arch "depends…" stagedir
  local name=$1 ver=$2 rel=$3 arch=$4 deps=$5 dir=$6 b="$work/build/$1-$2-$3"
  mkdir -p "$b"
  cat > "$b/PKGBUILD" <<EOF
# pkgswitch test fixture: real binaries from Debian bookworm, packaged for pacman.
pkgname=$name
pkgver=$ver
pkgrel=$rel
pkgdesc="$name (pkgswitch test fixture, binaries from Debian bookworm)"
arch=('$arch')
url="https://example.invalid/pkgswitch-fixture"
license=('custom')
depends=($deps)
options=(!strip !debug docs !zipman !purge emptydirs libtool staticlibs)
package() { cp -a "$dir/." "\$pkgdir/"; }
EOF
  chown -R nobody "$b"
  (cd "$b" && runuser -u nobody -- env HOME="$b" PKGDEST="${out:-$work/out}" SRCDEST="$b" BUILDDIR="$b" PKGEXT=.pkg.tar.zst \
    PACKAGER="pkgswitch fixture <fixture@pkgswitch.invalid>" makepkg --nodeps --noconfirm --noprogressbar >"$b/log" 2>&1) \
    || { cat "$b/log" >&2; echo "make-arch-root: makepkg $name failed" >&2; exit 1; }
}
echo "make-arch-root: building pacman packages with makepkg" >&2
build filesystem 2024.01.01 1 any "" "$stage/filesystem"
build glibc 2.36 9 x86_64 "filesystem" "$stage/glibc"
build gcc-libs 12.2.0 14 x86_64 "glibc" "$stage/gcc-libs"
build bookworm-libs 12 1 x86_64 "glibc gcc-libs" "$stage/bookworm-libs"
build bash 5.2.15 1 x86_64 "glibc bookworm-libs" "$stage/bash"
build pacman 6.0.2 3 x86_64 "glibc bookworm-libs" "$stage/pacman"
build coreutils 9.1 1 x86_64 "glibc bookworm-libs" "$stage/coreutils"
build uutils-coreutils 0.0.17 1 x86_64 "glibc gcc-libs bookworm-libs" "$stage/uutils-coreutils"
# The newer coreutils goes to its own directory: it stays out of [core].
mkdir -p "$work/newer"; chown nobody "$work/newer"
out="$work/newer" build coreutils 9.1 2 x86_64 "glibc bookworm-libs" "$stage/coreutils-new"

# --- the root: a [core] repository inside it, then pacman -S ---------------
root=$cache.tmp
rm -rf "$root"; mkdir -p "$root/srv/repo" "$root/srv/pkgs" "$root/etc" "$root/var/lib/pacman"
cp "$work/out/"*.pkg.tar.zst "$root/srv/repo/"
cp "$work/newer/"*.pkg.tar.zst "$root/srv/pkgs/"
repo-add -q "$root/srv/repo/core.db.tar.gz" "$root/srv/repo/"*.pkg.tar.zst >&2
cat > "$root/etc/pacman.conf" <<'EOF'
# pkgswitch test fixture: one local repository, unsigned packages.
[options]
Architecture = auto
SigLevel = Never
LocalFileSigLevel = Never

[core]
Server = file:///srv/repo
EOF
echo "make-arch-root: pacman --sysroot $root -Sy filesystem glibc … coreutils pacman" >&2
pacman --sysroot "$root" -Sy --noconfirm --noprogressbar filesystem glibc gcc-libs bookworm-libs bash coreutils pacman >&2
rm -rf "$root/var/cache/pacman/pkg/"*
chroot "$root" /usr/bin/ls --version >/dev/null || { echo "make-arch-root: GNU ls does not run in the new root" >&2; exit 1; }
echo "$fixture_version" > "$root/.pkgswitch-ready"
rm -rf "$cache"; mv "$root" "$cache"
echo "$cache"
