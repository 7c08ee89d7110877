#!/bin/sh
# Runs inside the NUMA guest: every check, against the core and under LD_PRELOAD.
#   in-guest.sh CORE_TEST PRELOAD_TEST LIBRARY KVSERVER
core=$1 preload=$2 lib=$3 kvserver=$4
numactl --hardware
rc=0
echo "== $core"
"$core" || rc=1
echo "== LD_PRELOAD=$lib $preload"
LD_PRELOAD=$lib "$preload" --kvserver "$kvserver" --lib "$lib" || rc=1
exit $rc
