# The region benchmark: the region and the core linked statically, malloc
# left to the process (glibc, or whatever LD_PRELOAD puts in front); see
# run_region_bench.sh.
add_executable(bench_region bench_region.c)
target_link_libraries(bench_region PRIVATE ca_region_obj ca_core Threads::Threads)
# Timed loops start on a 32-byte boundary: a 19-instruction loop that
# straddles one (where -O3 happened to put it) ran 15-20% slower on the
# development VM, a figure about code placement rather than the allocators.
target_compile_options(bench_region PRIVATE -falign-loops=32)
