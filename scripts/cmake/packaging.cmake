# Install and packaging, against targets and variables only:
#   bin/        concordarena (the launcher), kvserver (engines/)
#   lib/...     libconcordarena.so with its soname (interpose/),
#               libconcordarena_region.a (arena/region/), pkg-config files,
#               the CMake package ConcordArena (ConcordArena::concordarena,
#               ConcordArena::region)
#   include/concordarena/kv_arena.h (arena/region/)
#   share/concordarena/stats_report.py
# and the Debian package: `cpack -G DEB` in the build tree.
# Included from the top-level CMakeLists.txt after the subdirectories.

include(CMakePackageConfigHelpers)

set(CA_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR})
set(CA_STAGE ${CMAKE_BINARY_DIR}/packaging)

# Path of `to` relative to `from`, both under the install prefix; absolute
# when `to` is absolute (a CMAKE_INSTALL_*DIR given as an absolute path).
function(ca_install_relpath out from to)
  if(IS_ABSOLUTE "${to}")
    set(${out} "${to}" PARENT_SCOPE)
  else()
    file(RELATIVE_PATH rel "/ca-prefix/${from}" "/ca-prefix/${to}")
    string(REGEX REPLACE "/$" "" rel "${rel}")
    if(rel STREQUAL "")
      set(rel .)
    endif()
    set(${out} "${rel}" PARENT_SCOPE)
  endif()
endfunction()

# ---- the launcher ----
# The library is preloaded by its soname file (libconcordarena.so.0), found
# relative to the launcher: build/concordarena finds the build tree's,
# bin/concordarena the installed one.
get_target_property(ca_so_version concordarena SOVERSION)
get_target_property(ca_so_name concordarena OUTPUT_NAME)
if(NOT ca_so_name)
  set(ca_so_name concordarena)
endif()
set(CA_LAUNCHER_LIBNAME
  ${CMAKE_SHARED_LIBRARY_PREFIX}${ca_so_name}${CMAKE_SHARED_LIBRARY_SUFFIX}.${ca_so_version})
get_target_property(ca_lib_dir concordarena LIBRARY_OUTPUT_DIRECTORY)
if(NOT ca_lib_dir)
  get_target_property(ca_lib_dir concordarena BINARY_DIR)
endif()
file(RELATIVE_PATH CA_LAUNCHER_LIBDIR ${CMAKE_BINARY_DIR} ${ca_lib_dir})
configure_file(${PROJECT_SOURCE_DIR}/scripts/concordarena.in ${CA_STAGE}/build/concordarena @ONLY)
file(COPY ${CA_STAGE}/build/concordarena DESTINATION ${CMAKE_BINARY_DIR}
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
  WORLD_READ WORLD_EXECUTE)

ca_install_relpath(CA_LAUNCHER_LIBDIR "${CMAKE_INSTALL_BINDIR}" "${CMAKE_INSTALL_LIBDIR}")
configure_file(${PROJECT_SOURCE_DIR}/scripts/concordarena.in ${CA_STAGE}/install/concordarena @ONLY)
install(PROGRAMS ${CA_STAGE}/install/concordarena DESTINATION ${CMAKE_INSTALL_BINDIR})

# The statistics report (summary and matplotlib charts of JSON dumps).
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/stats_report.py
  DESTINATION ${CMAKE_INSTALL_DATADIR}/concordarena)

# ---- pkg-config: concordarena (shared) and concordarena-region (static) ----
# Relocatable: the prefix is found from the .pc file's own directory, so the
# files stay right for `cmake --install --prefix`, DESTDIR and the package.
set(ca_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${ca_pc_dir}")
  set(CA_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  ca_install_relpath(ca_pc_up "${ca_pc_dir}" "")
  set(CA_PC_PREFIX "\${pcfiledir}/${ca_pc_up}")
endif()
foreach(d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${d}}")
    set(ca_pc_${d} "${CMAKE_INSTALL_${d}}")
  else()
    set(ca_pc_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
  endif()
endforeach()
set(CA_PC_LIBDIR "${ca_pc_LIBDIR}")
set(CA_PC_INCLUDEDIR "${ca_pc_INCLUDEDIR}/concordarena")
set(CA_PC_NUMA "")
if(CA_WITH_LIBNUMA)
  set(CA_PC_NUMA "-lnuma")
endif()
foreach(pc concordarena concordarena-region)
  configure_file(${CA_CMAKE_DIR}/${pc}.pc.in ${CA_STAGE}/${pc}.pc @ONLY)
  install(FILES ${CA_STAGE}/${pc}.pc DESTINATION ${ca_pc_dir})
endforeach()

# ---- CMake package: find_package(ConcordArena) ----
set_target_properties(concordarena_region PROPERTIES EXPORT_NAME region)
# An installed consumer links libnuma by name, not by this machine's path.
if(CA_WITH_LIBNUMA)
  get_target_property(ca_region_links concordarena_region INTERFACE_LINK_LIBRARIES)
  list(REMOVE_ITEM ca_region_links ${NUMA_LIBRARY})
  list(APPEND ca_region_links "$<BUILD_INTERFACE:${NUMA_LIBRARY}>" "$<INSTALL_INTERFACE:numa>")
  set_target_properties(concordarena_region PROPERTIES INTERFACE_LINK_LIBRARIES "${ca_region_links}")
endif()

set(ca_cmake_dest ${CMAKE_INSTALL_LIBDIR}/cmake/ConcordArena)
install(EXPORT ConcordArenaTargets NAMESPACE ConcordArena:: DESTINATION ${ca_cmake_dest})
configure_package_config_file(${CA_CMAKE_DIR}/ConcordArenaConfig.cmake.in
  ${CA_STAGE}/ConcordArenaConfig.cmake INSTALL_DESTINATION ${ca_cmake_dest}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR)
# 0.x: a newer minor version may change the interface.
write_basic_package_version_file(${CA_STAGE}/ConcordArenaConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CA_STAGE}/ConcordArenaConfig.cmake ${CA_STAGE}/ConcordArenaConfigVersion.cmake
  DESTINATION ${ca_cmake_dest})

# ---- Debian package: cpack -G DEB ----
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME concordarena)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "ConcordArena")
set(CPACK_PACKAGE_CONTACT "ConcordArena developers <concordarena@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "NUMA-aware malloc replacement (LD_PRELOAD) with live statistics, and a region API")
set(CPACK_PACKAGE_DESCRIPTION
  "libconcordarena.so replaces malloc in any program through LD_PRELOAD (the concordarena
launcher sets it up): per-thread arenas, a NUMA-aware block cache and statistics on a
signal. Also the kv_arena region API (shared and static libraries, header, pkg-config
and CMake package) and kvserver, a Redis-protocol key-value server.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
# Dependencies from the binaries themselves (libc6, libnuma1) when
# dpkg-shlibdeps is there (dpkg-dev), else named by hand.
find_program(CA_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(CA_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6")
  if(CA_WITH_LIBNUMA)
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libnuma1")
  endif()
endif()
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3, python3-matplotlib")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libnuma-dev, pkg-config")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
