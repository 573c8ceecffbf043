#!/usr/bin/env bash
# Build (once) a cached Fedora-like root with a real rpm database, for the
# rpm/dnf e2e tests, then print its path. Fedora mirrors are out of reach, so
# the packages are real rpms built here with rpmbuild from real binaries out
# of the cached Debian root (GNU coreutils 9.1, bash, glibc and the libraries
# they load; uutils 0.0.17's multicall binary from the rust-coreutils .deb),
# laid out as Fedora lays them out, published as a local repository with
# createrepo_c and installed with dnf into an empty usr-merged root.
#
# Layout of the cache (default /var/cache/pkgswitch/fedora40-v2):
#   repo/        the local repository (*.rpm + repodata/), base url of the
#                root's /etc/yum.repos.d/fedora.repo
#   root/        the installed root (tests copy it; treat as read-only)
# The root keeps its rpm database where Fedora does: /usr/lib/sysimage/rpm.
# Debian's rpm defaults to ~/.rpmdb, so every rpm/dnf call here gets
# HOME=<work>/home whose .rpmmacros sets %_dbpath (root-relative); the
# host's own database is never read or written.
#
# coreutils comes in two releases: 9.1-1.fc40 (installed) and 9.1-2.fc40 (in
# the repo, for `dnf upgrade`). They share the 9.1 binaries; 9.1-2 appends a
# release note to each ELF file (the loader ignores trailing bytes), so every
# file of the upgrade has a new digest and mtime and a test can tell which
# release a restored file came from.
#   PKGSWITCH_FEDORA_CACHE  cache dir
set -euo pipefail
cache=${PKGSWITCH_FEDORA_CACHE:-/var/cache/pkgswitch/fedora40-v2}
deb_root=${PKGSWITCH_ROOT_CACHE:-/var/cache/pkgswitch/bookworm-minbase}
releasever=40
dist=fc40

if [ -f "$cache/.pkgswitch-ready" ]; then echo "$cache"; exit 0; fi
for t in rpmbuild dnf createrepo_c dpkg-deb; do
  command -v $t >/dev/null || { echo "make-fedora-root: $t is not installed (bash scripts/setup-rpm.sh)" >&2; exit 1; }
done
[ -f "$deb_root/.pkgswitch-ready" ] || deb_root=$(bash "$(dirname "$0")/make-root.sh")

tmp="$cache.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"/{work,repo,root,home,debs}
work="$tmp/work"
export HOME="$tmp/home"
# Root-relative with --root/--installroot: the root's own database.
echo '%_dbpath /usr/lib/sysimage/rpm' >"$HOME/.rpmmacros"
export SOURCE_DATE_EPOCH=1700000000
echo "make-fedora-root: building rpms in $work (about a minute)" >&2

# Unpack a Debian package's files into a staging tree, usr-merged as Fedora is.
stage_deb() { # stage_deb DIR DEB...
  local dir=$1; shift
  mkdir -p "$dir"
  for deb in "$@"; do dpkg-deb -x "$deb" "$dir"; done
  for d in bin sbin lib lib64; do
    if [ -d "$dir/$d" ] && [ ! -L "$dir/$d" ]; then
      mkdir -p "$dir/usr/$d"
      cp -a "$dir/$d/." "$dir/usr/$d/"
      rm -rf "${dir:?}/$d"
    fi
  done
  rm -rf "$dir/usr/share/doc" "$dir/usr/share/lintian" "$dir/usr/share/man" "$dir/usr/share/locale" "$dir/usr/share/info"
}

deb() { ls "$deb_root"/var/cache/apt/archives/"$1"_*.deb 2>/dev/null | head -1 || true; }

# build NAME VERSION RELEASE ARCH STAGEDIR "REQUIRES" "PROVIDES" [EXTRA_SPEC]
build() {
  local name=$1 version=$2 release=$3 arch=$4 stage=$5 requires=$6 provides=$7 extra=${8:-}
  local spec="$work/$name-$release.spec" list="$work/$name-$release.files"
  # Every file and symlink; directories only where the package is the
  # natural owner (its own subtrees), as Fedora's specs do.
  (cd "$stage" && find . -mindepth 1 \( -type f -o -type l \) -printf '/%P\n' | sort | sed 's/^/"/; s/$/"/') >"$list"
  (cd "$stage" && find . -mindepth 1 -type d -printf '/%P\n' | grep -E '^/usr/(lib|libexec|share)/[^/]+/' | grep -Ev '^/usr/lib/x86_64-linux-gnu/?$' | sort | sed 's/^/%dir "/; s/$/"/') >>"$list" || true
  cat >"$spec" <<EOF
Name: $name
Version: $version
Release: $release
Summary: $name for the pkgswitch Fedora fixture (binaries from Debian 12)
License: GPL-3.0-or-later
Vendor: Fedora Project
Packager: Fedora Project
URL: https://example.invalid/pkgswitch-fixture/$name
BuildArch: $arch
AutoReqProv: no
${requires:+Requires: $requires}
${provides:+Provides: $provides}
%description
$name built by pkgswitch's scripts/make-fedora-root.sh for tests.
$extra
%install
mkdir -p %{buildroot}
cp -a "$stage/." %{buildroot}/
%files -f $list
EOF
  rpmbuild -bb --quiet \
    --define "_topdir $work/top" --define "_rpmdir $tmp/repo" --define "_build_id_links none" \
    --define "__os_install_post %{nil}" --define "debug_package %{nil}" --define "_binary_payload w1.gzdio" \
    --define "_buildhost pkgswitch-fixture" --define "use_source_date_epoch_as_buildtime 1" \
    --define "clamp_mtime_to_source_date_epoch 0" \
    "$spec" >&2
}

# --- filesystem and release ---------------------------------------------
s="$work/filesystem"; mkdir -p "$s"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/share,etc,var/tmp,var/lib,var/cache,root,tmp,proc,dev,sys,run,home}
ln -s usr/bin "$s/bin"; ln -s usr/sbin "$s/sbin"; ln -s usr/lib "$s/lib"; ln -s usr/lib64 "$s/lib64"
printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:Kernel Overflow User:/:/usr/sbin/nologin\n' >"$s/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$s/etc/group"
(cd "$s" && find . -mindepth 1 -printf '/%P\n' | sort | while read -r p; do if [ -d "$s$p" ] && [ ! -L "$s$p" ]; then echo "%dir \"$p\""; else echo "\"$p\""; fi; done) >"$work/filesystem.files"
cat >"$work/filesystem.spec" <<EOF
Name: filesystem
Version: 3.18
Release: 6.$dist
Summary: The basic directory layout (pkgswitch Fedora fixture)
License: Public Domain
Vendor: Fedora Project
BuildArch: noarch
AutoReqProv: no
%description
Directories and usrmerge symlinks of a Fedora root.
%install
mkdir -p %{buildroot}
cp -a "$s/." %{buildroot}/
%files -f $work/filesystem.files
EOF
rpmbuild -bb --quiet --define "_topdir $work/top" --define "_rpmdir $tmp/repo" --define "__os_install_post %{nil}" "$work/filesystem.spec" >&2

s="$work/fedora-release"; mkdir -p "$s/usr/lib" "$s/etc"
cat >"$s/usr/lib/os-release" <<EOF
NAME="Fedora Linux"
VERSION="$releasever (pkgswitch fixture)"
ID=fedora
VERSION_ID=$releasever
PRETTY_NAME="Fedora Linux $releasever (pkgswitch fixture)"
EOF
ln -s ../usr/lib/os-release "$s/etc/os-release"
build fedora-release $releasever 1 noarch "$s" "filesystem" "system-release, system-release($releasever) = $releasever"

# --- libraries, from the Debian packages of the same code ----------------
lib() { # lib FEDORA_NAME DEB_NAME VERSION REQUIRES
  local s="$work/$1"
  stage_deb "$s" "$(deb "$2")"
  build "$1" "$3" "1.$dist" x86_64 "$s" "$4" ""
}
# libc6 is the one .deb not in the root's apt cache: rebuild it from the
# installed files dpkg lists.
s="$work/glibc"; mkdir -p "$s"
chroot "$deb_root" dpkg-query -L libc6 | while read -r f; do
  if [ -f "$deb_root$f" ] || [ -L "$deb_root$f" ]; then
    case $f in /usr/share/doc/*|/usr/share/lintian/*|/usr/share/man/*|/usr/share/locale/*|/usr/share/info/*) continue ;; esac
    d=$f; case $d in /lib/*|/lib64/*|/bin/*|/sbin/*) d=/usr$d ;; esac
    mkdir -p "$s$(dirname "$d")"; cp -a "$deb_root$f" "$s$d"
  fi
done
build glibc 2.36 "9.$dist" x86_64 "$s" "filesystem" ""
for pair in "libgcc libgcc-s1 12.2.0" "pcre2 libpcre2-8-0 10.42" "libselinux libselinux1 3.4" "gmp libgmp10 6.2.1" \
            "ncurses-libs libtinfo6 6.4" "libacl libacl1 2.3.1" "libattr libattr1 2.5.1"; do
  set -- $pair
  debfile=$(deb "$2")
  if [ -z "$debfile" ]; then
    # Not in the apt cache: take the installed files, as for glibc.
    s="$work/$1"; mkdir -p "$s"
    chroot "$deb_root" dpkg-query -L "$2:amd64" 2>/dev/null | while read -r f; do
      case $f in /usr/share/*) continue ;; esac
      if [ -f "$deb_root$f" ] || [ -L "$deb_root$f" ]; then
        d=$f; case $d in /lib/*|/lib64/*) d=/usr$d ;; esac
        mkdir -p "$s$(dirname "$d")"; cp -a "$deb_root$f" "$s$d"
      fi
    done
    build "$1" "$3" "1.$dist" x86_64 "$s" "glibc" ""
  else
    lib "$1" "$2" "$3" "glibc"
  fi
done

# --- bash (Fedora's /bin/sh) -----------------------------------------------
s="$work/bash"; stage_deb "$s" "$(deb bash)"
rm -rf "$s/etc/skel" "$s/usr/bin/bashbug" 2>/dev/null || true
ln -s bash "$s/usr/bin/sh"
build bash 5.2.15 "1.$dist" x86_64 "$s" "glibc, ncurses-libs, filesystem" "/bin/sh, /usr/bin/sh"

# --- GNU coreutils 9.1, two releases ----------------------------------------
s="$work/coreutils-1"; stage_deb "$s" "$(deb coreutils)"
# Fedora installs the GNU commands in /usr/bin (chroot in /usr/sbin), as here.
build coreutils 9.1 "1.$dist" x86_64 "$s" "glibc, libselinux, pcre2, gmp, libacl, libattr" ""
s2="$work/coreutils-2"; cp -a "$s" "$s2"
find "$s2/usr/bin" "$s2/usr/sbin" -type f | while read -r f; do
  if head -c 4 "$f" | grep -q ELF; then printf '\npkgswitch fixture coreutils 9.1-2.%s\n' "$dist" >>"$f"; fi
done
touch -d @1700086400 "$s2"/usr/bin/* "$s2"/usr/sbin/* 2>/dev/null || true
build coreutils 9.1 "2.$dist" x86_64 "$s2" "glibc, libselinux, pcre2, gmp, libacl, libattr" ""

# --- uutils coreutils 0.0.17, Fedora's layout --------------------------------
# Fedora's spec: the multicall binary /usr/bin/uutils-coreutils plus a
# /usr/bin/uu_<cmd> symlink per utility (underscore, unlike Arch's uu-).
s="$work/uutils"; mkdir -p "$s/usr/bin" "$work/uu-deb"
dpkg-deb -x "$(deb rust-coreutils)" "$work/uu-deb"
cp -a "$work/uu-deb/usr/bin/coreutils" "$s/usr/bin/uutils-coreutils"
for f in "$work/uu-deb/usr/lib/cargo/bin/coreutils/"*; do
  n=$(basename "$f"); [ "$n" = "[" ] && continue
  ln -s uutils-coreutils "$s/usr/bin/uu_$n"
done
build uutils-coreutils 0.0.17 "1.$dist" x86_64 "$s" "glibc, libgcc, libselinux, pcre2" ""

# --- rpm itself (pkgswitch's hooks run `rpm` inside the root) ---------------
# The host's (Debian's) rpm 4.18 binary, its config tree and every library it
# loads that the packages above do not ship. Inside the root it is called
# with --dbpath, since Debian's default database is ~/.rpmdb.
s="$work/rpm"; mkdir -p "$s/usr/bin" "$s/usr/lib" "$s/usr/lib/x86_64-linux-gnu"
cp -a /usr/bin/rpm "$s/usr/bin/rpm"
cp -a /usr/lib/rpm "$s/usr/lib/rpm"
shipped=$(cd "$work" && find . -path './rpm' -prune -o -name '*.so*' -printf '%f\n' | sort -u)
ldd /usr/bin/rpm | awk '$3 ~ /^\// {print $1, $3}' | while read -r soname path; do
  grep -qxF "$soname" <<<"$shipped" || cp -L "$path" "$s/usr/lib/x86_64-linux-gnu/$soname"
done
build rpm 4.18.0 "1.$dist" x86_64 "$s" "glibc, bash" ""

# --- the repository, and the root ----------------------------------------------
createrepo_c --quiet "$tmp/repo" >&2
mkdir -p "$tmp/root/etc/yum.repos.d" "$tmp/root/etc/dnf"
cat >"$tmp/root/etc/yum.repos.d/fedora.repo" <<EOF
[fedora]
name=Fedora $releasever (pkgswitch fixture, built from Debian 12 binaries)
baseurl=file://$cache/repo
enabled=1
gpgcheck=0
metadata_expire=never
EOF
printf '[main]\ngpgcheck=0\ninstall_weak_deps=False\nkeepcache=False\n' >"$tmp/root/etc/dnf/dnf.conf"
# The repo url names the final cache path: while building, the same repo id
# points at the tmp copy (dnf records it as each package's from_repo).
mkdir -p "$work/repos.d"
sed "s|file://$cache/repo|file://$tmp/repo|" "$tmp/root/etc/yum.repos.d/fedora.repo" >"$work/repos.d/fedora.repo"
dnf -y -q --noplugins --installroot "$tmp/root" --releasever $releasever --setopt=reposdir="$work/repos.d" \
  install filesystem fedora-release bash glibc rpm "coreutils-9.1-1.$dist" >&2
rm -rf "$tmp/root/var/cache/dnf" "$tmp/root/var/log/"*
[ -d "$tmp/root/usr/lib/sysimage/rpm" ] || { echo "make-fedora-root: no rpm database in /usr/lib/sysimage/rpm" >&2; exit 1; }
rm -rf "$work" "$tmp/debs"
touch "$tmp/.pkgswitch-ready"
rm -rf "$cache"; mv "$tmp" "$cache"
echo "$cache"
