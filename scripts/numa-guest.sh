#!/usr/bin/env bash
# Boots a qemu guest with a real NUMA topology and runs one command in it.
#
#   scripts/numa-guest.sh [--nodes N | --node-mem M0,M1,...] [--dir DIR]
#                         [--timeout SECONDS] [--boot-timeout SECONDS] [--console FILE]
#                         -- COMMAND [ARGS...]
#
# Node i gets CPU i and Mi MiB of memory (--nodes N: N nodes of 512 MiB; a
# size of 0 makes a node with a CPU and no memory). The guest runs the kernel
# and initramfs that scripts/numa-guest-setup.sh put in DIR (default
# build/numa-guest), sees the host's / read-only over 9p and runs COMMAND
# chrooted into it, in the current directory, with its own /proc, /sys, /dev,
# /run and /tmp (the host's directories in /tmp are bound back in, read-only,
# so a build tree under /tmp works). COMMAND's output is printed and its exit status is returned.
# Exits 77 (skipped) when qemu or the kernel is missing.
# KVM is used when it can run the kernel, TCG otherwise.
# --timeout bounds the whole run. A guest that has not started COMMAND within
# --boot-timeout seconds (default 60; a boot takes a few seconds, under TCG too) is taken as
# hung at boot: it is killed and booted again, up to three boots in all.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/build/numa-guest"
mems=(512 512)
limit=300
boot_limit=60
console=""
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) mems=(); for ((i = 0; i < $2; i++)); do mems+=(512); done; shift 2 ;;
        --node-mem) IFS=, read -r -a mems <<< "$2"; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --timeout) limit=$2; shift 2 ;;
        --boot-timeout) boot_limit=$2; shift 2 ;;
        --console) console=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "numa-guest: unknown option $1" >&2; exit 2 ;;
    esac
done
[ $# -gt 0 ] || { echo "numa-guest: no command" >&2; exit 2; }

qemu=$(command -v qemu-system-x86_64 || true)
if [ -z "$qemu" ]; then
    echo "numa-guest: SKIPPED: qemu-system-x86_64 not found (package qemu-system-x86)"
    exit 77
fi
if [ ! -s "$dir/vmlinuz" ] || [ ! -s "$dir/initramfs.cpio.gz" ]; then
    echo "numa-guest: SKIPPED: no guest kernel in $dir (scripts/numa-guest-setup.sh makes it)"
    exit 77
fi

nodes=${#mems[@]}
total=0
numa=()
for ((i = 0; i < nodes; i++)); do
    m=${mems[$i]}
    if [ "$m" -gt 0 ]; then
        total=$((total + m))
        numa+=(-object "memory-backend-ram,id=m$i,size=${m}M"
               -numa "node,nodeid=$i,cpus=$i,memdev=m$i")
    else
        numa+=(-numa "node,nodeid=$i,cpus=$i")
    fi
done

# A paravirtual KVM (kvm_pvm) cannot run a stock kernel, nor can a CPU
# without vmx/svm: those get TCG. A KVM that fails to start falls back to TCG.
accels=("tcg,thread=multi max")
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ ! -e /sys/module/kvm_pvm ] &&
    grep -qE '^flags.*\b(vmx|svm)\b' /proc/cpuinfo; then
    accels=("kvm host" "${accels[@]}")
fi

out=$(mktemp -d "${TMPDIR:-/tmp}/numa-guest.XXXXXX")
trap 'rm -rf "$out"' EXIT
chmod 777 "$out"
{
    echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo "export HOME=/tmp LANG=C"
    echo ": > /run/out/started"
    printf 'cd %q || exit 125\n' "$PWD"
    printf 'exec'
    printf ' %q' "$@"
    printf '\n'
} > "$out/cmd"

# One boot: qemu's status, or 200 when the guest did not start COMMAND within
# its boot time (qemu is killed then).
boot() {
    local accel=$1 left=$2 pid n=0
    rm -f "$out/started" "$out/console"
    timeout --foreground -k 5 "$left" "$qemu" -machine q35 -accel "${accel% *}" -cpu "${accel#* }" \
        -smp "$nodes" -m "${total}M" "${numa[@]}" \
        -kernel "$dir/vmlinuz" -initrd "$dir/initramfs.cpio.gz" \
        -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off" \
        -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap" \
        -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
        -fsdev "local,id=out,path=$out,security_model=none" \
        -device virtio-9p-pci,fsdev=out,mount_tag=out \
        -display none -serial "file:$out/console" -monitor none -net none \
        -no-reboot < /dev/null &
    pid=$!
    # a watchdog, not a synchronisation: qemu's exit ends the wait at once
    while [ ! -e "$out/started" ] && kill -0 "$pid" 2> /dev/null; do
        if [ "$n" -ge "$boot_limit" ]; then
            kill "$pid" 2> /dev/null || true
            wait "$pid" || true
            return 200
        fi
        sleep 1
        n=$((n + 1))
    done
    wait "$pid"
}

start=$SECONDS
rc=0
for accel in "${accels[@]}"; do
    for try in 1 2 3; do
        left=$((limit - (SECONDS - start)))
        [ "$left" -gt 0 ] || { rc=124; break; }
        rc=0
        boot "$accel" "$left" || rc=$?
        [ "$rc" -eq 200 ] || break
        echo "numa-guest: boot $try: the guest did not start its command within ${boot_limit}s" >&2
        [ ! -s "$out/console" ] || tail -n 5 "$out/console" >&2
    done
    [ "$rc" -ne 200 ] || rc=124 # hung at every boot: out of time, not a qemu failure
    # a guest that ran, or ran out of time, is not retried
    if [ -s "$out/status" ] || [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then break; fi
    echo "numa-guest: qemu -accel ${accel% *} failed (status $rc)" >&2
done
[ -z "$console" ] || cp "$out/console" "$console"
[ -f "$out/output" ] && cat "$out/output"
if [ ! -s "$out/status" ]; then
    echo "numa-guest: the guest did not finish (qemu status $rc); its console:"
    [ ! -s "$out/console" ] || tail -n 40 "$out/console"
    exit 1
fi
exit "$(cat "$out/status")"
