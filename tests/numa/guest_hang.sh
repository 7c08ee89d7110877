#!/bin/sh
# numa-guest.sh's boot watchdog: a guest that does not start its command
# within --boot-timeout is killed and booted again, three times, and the run
# then ends as "did not finish" (status 1) rather than waiting for --timeout.
# A boot timeout of 0 seconds stands in for a guest that hangs: no guest
# starts its command that soon. Skipped (77) where numa-guest.sh skips.
# Usage: guest_hang.sh NUMA-GUEST-SCRIPT GUEST-DIR
script=$1
dir=$2
out=$(bash "$script" --dir "$dir" --nodes 1 --boot-timeout 0 --timeout 120 -- true 2>&1)
status=$?
printf '%s\n' "$out"
[ "$status" -ne 77 ] || exit 77
fail() {
    echo "guest_hang: $1" >&2
    exit 1
}
[ "$status" -eq 1 ] || fail "status $status, expected 1"
for try in 1 2 3; do
    printf '%s\n' "$out" | grep -q "boot $try: the guest did not start its command within 0s" ||
        fail "no report of boot $try"
done
printf '%s\n' "$out" | grep -q "boot 4" && fail "booted more than three times"
printf '%s\n' "$out" | grep -q "the guest did not finish" || fail "no 'did not finish'"
echo "guest_hang: three boots, each stopped, then reported"
