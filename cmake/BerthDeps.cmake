# The third-party libraries, as the targets the modules link (PkgConfig::LIBUV, yaml-cpp,
# spdlog::spdlog, …).
#
# BERTH_STATIC_DEPS=ON (the default, except in sanitizer and fuzzing builds): every library
# but glibc's is linked from its Debian archive (lib*.a), libstdc++ and libgcc too, and
# spdlog and fmt are header-only. berth then loads libc, libresolv and the loader, and
# resolves a few hundred symbols before main instead of 26 objects and ~8,700 symbols
# (bench/startup_bench.sh measures it).
# BERTH_STATIC_DEPS=OFF: the shared libraries, as pkg-config and the CMake packages give them.

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(doctest REQUIRED)
pkg_check_modules(CLI11 REQUIRED IMPORTED_TARGET CLI11)
# libcurl: only its headers at build time; src/registry/curl_loader.cc opens libcurl.so.4 when a
# registry is first used (Debian's libcurl.a needs archives Debian does not ship, and linking the
# shared library would load ~30 libraries in every berth command).
find_path(CURL_INCLUDE_DIR curl/curl.h REQUIRED)
find_path(VALIJSON_INCLUDE_DIR valijson/validator.hpp REQUIRED)

if(NOT BERTH_STATIC_DEPS)
  find_package(yaml-cpp REQUIRED)
  find_package(spdlog REQUIRED)
  find_package(fmt REQUIRED)
  pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
  pkg_check_modules(LIBNL REQUIRED IMPORTED_TARGET libnl-3.0 libnl-route-3.0)
  pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive)
  pkg_check_modules(LIBSECCOMP REQUIRED IMPORTED_TARGET libseccomp)
  pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)
  return()
endif()

# glibc's own libraries stay shared: a static glibc piece beside a shared libc is a trap.
set(BERTH_GLIBC_LIBS c m pthread dl rt resolv util)

# berth_static_pkg(PREFIX [EXCLUDE lib...] MODULES module...): PkgConfig::PREFIX, an imported
# target of the modules' archives (pkg-config --static), glibc's libraries left shared.
function(berth_static_pkg prefix)
  cmake_parse_arguments(P "" "" "EXCLUDE;MODULES" ${ARGN})
  pkg_check_modules(${prefix} REQUIRED ${P_MODULES})
  set(libs "")
  foreach(name IN LISTS ${prefix}_STATIC_LIBRARIES)
    if(name IN_LIST P_EXCLUDE)
      continue()
    elseif(name IN_LIST BERTH_GLIBC_LIBS)
      list(APPEND libs ${name})
    else()
      find_library(BERTH_ARCHIVE_${name} NAMES lib${name}.a NO_CACHE)
      if(NOT BERTH_ARCHIVE_${name})
        message(FATAL_ERROR "lib${name}.a (for ${P_MODULES}) is missing: run scripts/setup.sh, "
                            "or configure with -DBERTH_STATIC_DEPS=OFF")
      endif()
      list(APPEND libs ${BERTH_ARCHIVE_${name}})
    endif()
  endforeach()
  add_library(PkgConfig::${prefix} INTERFACE IMPORTED GLOBAL)
  set_target_properties(PkgConfig::${prefix} PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${${prefix}_STATIC_INCLUDE_DIRS}"
    INTERFACE_COMPILE_OPTIONS "${${prefix}_STATIC_CFLAGS_OTHER}"
    INTERFACE_LINK_LIBRARIES "${libs};Threads::Threads")
endfunction()

berth_static_pkg(LIBUV MODULES libuv-static)
berth_static_pkg(LIBNL MODULES libnl-3.0 libnl-route-3.0)
# libxml2 (and with it ICU) serves only libarchive's xar format, which berth does not register
# (src/images/extract.cc and src/cli/cp.cc ask for tar/gnutar/raw and pax): leaving it out makes
# a link error of any change that would pull it back in. It relies on --gc-sections (the root
# CMakeLists.txt): without it archive_write_set_format.o drags in the xar writer.
berth_static_pkg(LIBARCHIVE EXCLUDE xml2 MODULES libarchive)
berth_static_pkg(LIBSECCOMP MODULES libseccomp)
berth_static_pkg(LIBCRYPTO MODULES libcrypto)

find_library(BERTH_YAML_CPP_ARCHIVE NAMES libyaml-cpp.a REQUIRED)
add_library(yaml-cpp STATIC IMPORTED GLOBAL)
set_target_properties(yaml-cpp PROPERTIES IMPORTED_LOCATION ${BERTH_YAML_CPP_ARCHIVE})

# fmt and spdlog: Debian ships them as shared libraries only. Their compiled
# halves are built once here (cmake/deps/fmt_spdlog_impl.cc), so that a file
# that logs includes declarations only (header-only they cost ~9 s of CPU a file).
add_library(berth_logimpl STATIC ${PROJECT_SOURCE_DIR}/cmake/deps/fmt_spdlog_impl.cc)
target_compile_definitions(berth_logimpl PUBLIC SPDLOG_COMPILED_LIB SPDLOG_FMT_EXTERNAL)
target_link_libraries(berth_logimpl PUBLIC Threads::Threads)
add_library(fmt::fmt ALIAS berth_logimpl)
add_library(spdlog::spdlog ALIAS berth_logimpl)
