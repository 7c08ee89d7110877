#!/usr/bin/env bash
# Prepares what scripts/numa-guest.sh boots: a Debian kernel and a small
# initramfs (busybox and the virtio/9p modules), in DIR (default
# build/numa-guest). The kernel is the one Debian's linux-image-amd64 depends
# on today (or the newest linux-image-6.1.0-*-amd64 apt-cache knows), fetched
# with `apt-get download` and unpacked with dpkg-deb; nothing is installed.
# Does nothing when DIR is already complete. Exits 1 when something needed
# cannot be had: the guest tests then report themselves skipped.
set -euo pipefail
dir=${1:-$(cd "$(dirname "$0")/.." && pwd)/build/numa-guest}
mods=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
      9pnet 9pnet_virtio netfs fscache 9p)

stamp=$(sha1sum < "$0" | cut -d' ' -f1) # a changed script rebuilds
if [ -s "$dir/vmlinuz" ] && [ -s "$dir/initramfs.cpio.gz" ] &&
    [ "$(cat "$dir/stamp" 2> /dev/null)" = "$stamp" ]; then
    exit 0
fi
rm -f "$dir/stamp"
for tool in apt-get apt-cache dpkg-deb gzip; do
    command -v "$tool" > /dev/null || { echo "numa-guest-setup: $tool not found" >&2; exit 1; }
done
busybox=""
for b in /bin/busybox /usr/bin/busybox; do
    if [ -x "$b" ] && ! LC_ALL=C ldd "$b" > /dev/null 2>&1; then busybox=$b; break; fi
done
[ -n "$busybox" ] || { echo "numa-guest-setup: no static busybox (package busybox-static)" >&2; exit 1; }

pkg=$(apt-cache depends linux-image-amd64 2> /dev/null |
      awk '/Depends: linux-image-6\.1\.0-[0-9]+-amd64$/ {print $2; exit}')
if [ -z "$pkg" ]; then
    pkg=$(apt-cache pkgnames linux-image-6.1.0- 2> /dev/null |
          grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' | sort -V | tail -n 1 || true)
fi
[ -n "$pkg" ] || { echo "numa-guest-setup: no linux-image-6.1.0-*-amd64 package known to apt-cache" >&2; exit 1; }

mkdir -p "$dir"
work=$(mktemp -d "$dir/.setup.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt-get download runs as _apt where it can
if ! (cd "$work" && apt-get download -q "$pkg" > /dev/null 2>&1); then
    # stale package lists: refresh them once (as root, or with sudo) and retry
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
    $SUDO apt-get update -qq > /dev/null 2>&1 || true
    (cd "$work" && apt-get download -q "$pkg" > /dev/null 2>&1) ||
        { echo "numa-guest-setup: apt-get download $pkg failed" >&2; exit 1; }
fi
deb=$(ls "$work"/*.deb)
mkdir "$work/k"
dpkg-deb --fsys-tarfile "$deb" |
    tar -x -C "$work/k" --wildcards './boot/vmlinuz-*' './lib/modules/*/kernel/drivers/virtio/*' \
        './lib/modules/*/kernel/net/9p/*' './lib/modules/*/kernel/fs/netfs/*' \
        './lib/modules/*/kernel/fs/fscache/*' './lib/modules/*/kernel/fs/9p/*'
kver=$(ls "$work/k/lib/modules")

ir="$work/initramfs"
mkdir -p "$ir"/{bin,dev,proc,sys,host,lib/modules}
cp "$busybox" "$ir/bin/busybox"
for m in "${mods[@]}"; do
    f=$(find "$work/k/lib/modules/$kver" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | head -n 1)
    [ -n "$f" ] || { echo "numa-guest-setup: module $m not in $pkg" >&2; exit 1; }
    case "$f" in
        *.xz) xz -dc "$f" > "$ir/lib/modules/$m.ko" ;;
        *.zst) zstd -qdc "$f" > "$ir/lib/modules/$m.ko" ;;
        *) cp "$f" "$ir/lib/modules/$m.ko" ;;
    esac
done
cat > "$ir/init" << EOF
#!/bin/busybox sh
# Mounts the host's / read-only at /host, the guest's own proc, sys, dev,
# /run and /tmp over it (the host's directories in /tmp bound back in), the output share at /host/run/out; runs its cmd
# chrooted into the host root; writes output and status there; powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in ${mods[*]}; do insmod /lib/modules/\$m.ko || echo "init: insmod \$m failed"; done
opts=trans=virtio,version=9p2000.L,msize=512000
if mount -t 9p -o ro,cache=loose,\$opts hostroot /host; then
    mount -t proc proc /host/proc
    mount -t sysfs sysfs /host/sys
    mount -t devtmpfs devtmpfs /host/dev
    mkdir -p /host/dev/pts /host/dev/shm
    mount -t devpts devpts /host/dev/pts
    mount -t tmpfs tmpfs /host/dev/shm
    mount -t tmpfs tmpfs /host/run
    # /tmp is the guest's own (writable), but the host's directories in it
    # stay visible (read-only): a build tree may live there
    mkdir -p /hosttmp
    mount -o bind /host/tmp /hosttmp
    mount -t tmpfs tmpfs /host/tmp
    for d in /hosttmp/*; do
        [ -d "\$d" ] || continue
        n=\${d#/hosttmp/}
        mkdir -p "/host/tmp/\$n" && mount -o bind "\$d" "/host/tmp/\$n"
    done
    mkdir /host/run/out
    mount -t 9p -o \$opts out /host/run/out
    ip link set lo up
    chroot /host /bin/sh /run/out/cmd > /host/run/out/output 2>&1
    echo \$? > /host/run/out/status
    sync
    umount /host/run/out
else
    echo "init: cannot mount the host root"
fi
poweroff -f
EOF
chmod 755 "$ir/init"
(cd "$ir" && find . | LC_ALL=C sort | "$busybox" cpio -o -H newc 2> /dev/null | gzip -1) > "$work/initramfs.cpio.gz"
mv "$work/k/boot/vmlinuz-$kver" "$dir/vmlinuz"
mv "$work/initramfs.cpio.gz" "$dir/initramfs.cpio.gz"
echo "$pkg ($kver)" > "$dir/kernel"
echo "$stamp" > "$dir/stamp"
echo "numa-guest-setup: $pkg ready in $dir"
