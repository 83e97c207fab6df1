# Helpers shared by every Samplan target.

# Warnings for our own code only; generated protobuf code is built without them.
function(samplan_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(SAMPLAN_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# samplan_proto_library(<name> PROTOS a.proto ... [DEPS lib ...] [GRPC])
# Builds one static library from the .proto files of one package (AIP-191: the
# directory matches the package), with gRPC stubs when GRPC is given.
function(samplan_proto_library name)
  cmake_parse_arguments(ARG "GRPC" "" "PROTOS;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_PROTOS})
  target_link_libraries(${name} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  target_include_directories(${name} PUBLIC ${PROJECT_BINARY_DIR}/proto)
  target_compile_options(${name} PRIVATE -w)
  protobuf_generate(TARGET ${name} LANGUAGE cpp
    IMPORT_DIRS ${PROJECT_SOURCE_DIR}/proto
    PROTOC_OUT_DIR ${PROJECT_BINARY_DIR}/proto)
  if(ARG_GRPC)
    # The gateway links every library of services, to serve them by descriptors.
    set_property(GLOBAL APPEND PROPERTY SAMPLAN_SERVICE_PROTO_LIBRARIES ${name})
    target_link_libraries(${name} PUBLIC gRPC::grpc++)
    protobuf_generate(TARGET ${name} LANGUAGE grpc
      GENERATE_EXTENSIONS .grpc.pb.h .grpc.pb.cc
      PLUGIN "protoc-gen-grpc=\$<TARGET_FILE:gRPC::grpc_cpp_plugin>"
      IMPORT_DIRS ${PROJECT_SOURCE_DIR}/proto
      PROTOC_OUT_DIR ${PROJECT_BINARY_DIR}/proto)
  endif()
endfunction()

# samplan_embed_migrations(<target> <function> <dir>)
# Compiles the numbered .sql files of <dir> into <target>, so a binary carries its
# own schema and needs no migration files beside it in a container. The generated
# function is `const std::vector<samplan::Migration>& samplan::<function>()`.
function(samplan_embed_migrations target function dir)
  file(GLOB sql_files CONFIGURE_DEPENDS ${dir}/*.sql)
  list(SORT sql_files)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${function}.cc)
  # A list's ";" would split the command: the files travel joined by "|", quoted
  # for the shell by VERBATIM.
  string(REPLACE ";" "|" file_list "${sql_files}")
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNAME=${function} "-DFILES=${file_list}"
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake
    DEPENDS ${sql_files} ${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake
    COMMENT "Embedding migrations of ${target}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()

include(GoogleTest)

# samplan_test(<target> [INTEGRATION]): registers every GoogleTest case of
# <target> with CTest as "<target>.<Suite>.<Case>", so that ctest lists, times and
# runs cases, not binaries (`ctest -N`, `ctest -R caseplan_store_test`). The cases
# are listed when ctest runs, not at build time, which keeps the build lean.
# INTEGRATION: a test against real servers that it starts itself; labelled
# "integration" (`ctest -L integration`, `ctest -LE integration`), with room to
# start them.
function(samplan_test target)
  cmake_parse_arguments(ARG "INTEGRATION" "" "" ${ARGN})
  if(ARG_INTEGRATION)
    set(label integration)
    set(timeout 600)
  else()
    set(label unit)
    set(timeout 120)
  endif()
  gtest_discover_tests(${target} TEST_PREFIX "${target}." DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS ${label} TIMEOUT ${timeout})
endfunction()

# samplan_gtest(<name> SOURCES <files>... LIBRARIES <libraries>... [INTEGRATION]):
# a GoogleTest binary built with the project's warnings, its cases registered
# with ctest by samplan_test().
function(samplan_gtest name)
  cmake_parse_arguments(ARG "INTEGRATION" "" "SOURCES;LIBRARIES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBRARIES} GTest::gtest_main)
  samplan_warnings(${name})
  if(ARG_INTEGRATION)
    samplan_test(${name} INTEGRATION)
  else()
    samplan_test(${name})
  endif()
endfunction()

# samplan_service_executable(<binary> <library>): a service's binary, its main.cc
# (wiring only) over the service's library.
function(samplan_service_executable binary library)
  add_executable(${binary} main.cc)
  target_link_libraries(${binary} PRIVATE ${library})
  samplan_warnings(${binary})
endfunction()
