#!/bin/sh
# Install and packaging tests, run by ctest:
#
#   install_test.sh find_package BUILD_DIR SOURCE_DIR CC
#   install_test.sh pkgconfig    BUILD_DIR SOURCE_DIR CC
#   install_test.sh deb          BUILD_DIR SOURCE_DIR CC
#
# find_package, pkgconfig: `cmake --install BUILD_DIR --prefix` a temporary
# prefix, check the installed files and the installed launcher, and build
# tests/consumer/ against the install (CMake package, or pkg-config).
# deb: `cpack -G DEB` into a temporary directory; the package's metadata
# (dpkg-deb -I: libnuma1 among the dependencies when built with libnuma) and its contents (dpkg -c,
# and dpkg-deb -x into a temporary directory, compared with a staged
# install to /usr) are checked, and `apt-get install -s` (a simulation)
# accepts it. The package is not installed on this machine.
# Exit 77 (skipped) when a tool the mode needs is missing.
set -eu
mode=$1 build=$(cd "$2" && pwd) src=$(cd "$3" && pwd) cc=$4
tmp=$(mktemp -d /tmp/ca-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
skip() {
    echo "SKIPPED: $*"
    exit 77
}
# The install's library directory, as configured.
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build/CMakeCache.txt")
[ -n "$libdir" ] || fail "no CMAKE_INSTALL_LIBDIR in $build/CMakeCache.txt"

# The files of a staged install, relative to its root, sorted.
list_files() {
    (cd "$1" && find . -mindepth 1 ! -type d | sed 's|^\./||' | LC_ALL=C sort)
}

check_install() {
    P=$1
    for f in bin/concordarena bin/kvserver; do
        [ -x "$P/$f" ] || fail "$f not installed (or not executable)"
    done
    for f in "$libdir/libconcordarena.so.0" "$libdir/libconcordarena.so" \
        "$libdir/libconcordarena_region.a" include/concordarena/kv_arena.h \
        "$libdir/pkgconfig/concordarena.pc" "$libdir/pkgconfig/concordarena-region.pc" \
        "$libdir/cmake/ConcordArena/ConcordArenaConfig.cmake" \
        "$libdir/cmake/ConcordArena/ConcordArenaConfigVersion.cmake" \
        "$libdir/cmake/ConcordArena/ConcordArenaTargets.cmake" \
        share/concordarena/stats_report.py; do
        [ -e "$P/$f" ] || fail "$f not installed"
    done
    if [ -f /etc/debian_version ]; then
        case $libdir in lib/*-linux-*) ;; *) fail "library directory $libdir is not Debian's multiarch one" ;; esac
    fi
    # the library carries its soname, and the .so names resolve to it
    soname=$(readelf -d "$P/$libdir/libconcordarena.so.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$soname" = libconcordarena.so.0 ] || fail "soname '$soname'"
    [ -L "$P/$libdir/libconcordarena.so" ] || fail "libconcordarena.so is not a link"
    # the installed launcher preloads the installed library and prints the
    # statistics of `ls /` at exit
    # shellcheck disable=SC2016
    out=$("$P/bin/concordarena" sh -c 'printf %s "$LD_PRELOAD"')
    want=$(cd -P "$P/$libdir" && pwd)/libconcordarena.so.0
    [ "$out" = "$want" ] || fail "installed launcher preloads '$out', not '$want'"
    out=$("$P/bin/concordarena" --stats-at-exit -- ls / 2>&1)
    case $out in *'=== concordarena statistics'*'=== end ==='*) ;; *) fail "no statistics from ls: $out" ;; esac
    case $out in *usr*) ;; *) fail "no output from ls: $out" ;; esac
}

# Run a consumer program; the line it prints says which malloc it got.
expect_malloc() {
    prog=$1 want=$2
    out=$("$prog") || fail "$prog failed: $out"
    echo "$out"
    case $out in *"region ok"*) ;; *) fail "$prog: $out" ;; esac
    case $want in
        ours) case $out in *"malloc from "*libconcordarena*) ;; *) fail "$prog: malloc is not ours: $out" ;; esac ;;
        libc) case $out in *"malloc from "*libc.so*) ;; *) fail "$prog: malloc is not libc's: $out" ;; esac ;;
    esac
}

case $mode in
find_package)
    command -v cmake >/dev/null || skip "cmake not found"
    P=$tmp/prefix
    cmake --install "$build" --prefix "$P" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "install"; }
    check_install "$P"
    cmake -S "$src/tests/consumer" -B "$tmp/consumer" -DCMAKE_C_COMPILER="$cc" \
        -DCMAKE_PREFIX_PATH="$P" >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail "consumer configure"; }
    grep -q "ConcordArena 0" "$tmp/configure.log" || { cat "$tmp/configure.log"; fail "package version not reported"; }
    cmake --build "$tmp/consumer" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "consumer build"; }
    expect_malloc "$tmp/consumer/consumer_shared" ours
    expect_malloc "$tmp/consumer/consumer_region" libc
    ;;
pkgconfig)
    command -v pkg-config >/dev/null || skip "pkg-config not found"
    P=$tmp/prefix
    cmake --install "$build" --prefix "$P" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "install"; }
    check_install "$P"
    PKG_CONFIG_PATH=$P/$libdir/pkgconfig
    export PKG_CONFIG_PATH
    [ "$(pkg-config --modversion concordarena)" = "$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")" ] ||
        fail "pkg-config version"
    # shellcheck disable=SC2046
    "$cc" -o "$tmp/pc_shared" "$src/tests/consumer/consumer.c" $(pkg-config --cflags --libs concordarena)
    # shellcheck disable=SC2046
    "$cc" -o "$tmp/pc_region" "$src/tests/consumer/consumer.c" $(pkg-config --cflags --libs concordarena-region)
    LD_LIBRARY_PATH=$P/$libdir expect_malloc "$tmp/pc_shared" ours
    expect_malloc "$tmp/pc_region" libc
    ;;
deb)
    command -v cpack >/dev/null || skip "cpack not found"
    command -v dpkg-deb >/dev/null || skip "dpkg-deb not found"
    (cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/pkg") >"$tmp/cpack.log" 2>&1 ||
        { cat "$tmp/cpack.log"; fail "cpack"; }
    set -- "$tmp"/pkg/concordarena_*.deb
    [ -f "$1" ] || { cat "$tmp/cpack.log"; fail "no concordarena_*.deb"; }
    deb=$1
    echo "package: ${deb##*/}"
    dpkg-deb -I "$deb" >"$tmp/info"
    cat "$tmp/info"
    grep -q '^ Package: concordarena$' "$tmp/info" || fail "package name"
    grep -q "^ Architecture: $(dpkg --print-architecture)$" "$tmp/info" || fail "architecture"
    if grep -q '^CA_WITH_LIBNUMA:BOOL=ON' "$build/CMakeCache.txt"; then
        grep -q '^ Depends:.*libnuma1' "$tmp/info" || fail "libnuma1 is not a dependency"
    fi
    grep -q '^ Depends:.*libc6' "$tmp/info" || fail "libc6 is not a dependency"
    # contents: what `cmake --install` puts under /usr, nothing more, nothing less
    DESTDIR=$tmp/staged cmake --install "$build" --prefix /usr >/dev/null
    list_files "$tmp/staged" >"$tmp/want"
    dpkg-deb -x "$deb" "$tmp/x"
    list_files "$tmp/x" >"$tmp/got"
    diff "$tmp/want" "$tmp/got" || fail "package contents differ from the install (- install, + package)"
    dpkg -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./||' | LC_ALL=C sort >"$tmp/listed"
    diff "$tmp/want" "$tmp/listed" || fail "dpkg -c lists other files than the install"
    dpkg -c "$deb" | grep '^-rwxr-xr-x root/root .* ./usr/bin/concordarena$' >/dev/null ||
        fail "launcher mode or owner"
    # apt accepts it, dependencies resolved (a simulation: nothing installed)
    if command -v apt-get >/dev/null; then
        apt-get install -s "$deb" >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; fail "apt-get -s"; }
        grep '^Inst concordarena ' "$tmp/apt.log" || { cat "$tmp/apt.log"; fail "apt-get -s"; }
    fi
    # the extracted tree works where it lies: its launcher finds its library
    check_install "$tmp/x/usr"
    ;;
*)
    fail "unknown mode $mode"
    ;;
esac
echo "ok: $mode"
