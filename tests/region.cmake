# The region API's tests (kv_arena_*): the region and the core linked
# statically, and the same binary again under valgrind when it is installed.
ca_core_test(test_region)
target_link_libraries(test_region PRIVATE ca_region_obj)
set_tests_properties(test_region PROPERTIES TIMEOUT 120)

find_program(VALGRIND valgrind)
if(VALGRIND AND NOT SANITIZER)
  add_test(NAME test_region_valgrind
    COMMAND ${VALGRIND} --error-exitcode=1 --leak-check=full
            --errors-for-leak-kinds=definite,indirect $<TARGET_FILE:test_region>)
  # Fewer allocations per thread: valgrind runs threads one at a time.
  set_tests_properties(test_region_valgrind PROPERTIES
    ENVIRONMENT "CA_REGION_TEST_ITERS=2000" TIMEOUT 300)
endif()
