# The region benchmark: the region and the core linked statically, malloc
# left to the process (glibc, or whatever LD_PRELOAD puts in front); see
# run_region_bench.sh.
add_executable(bench_region bench_region.c)
target_link_libraries(bench_region PRIVATE ca_region_obj ca_core Threads::Threads)
