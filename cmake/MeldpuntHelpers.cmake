# Small helpers so every lib, service and test is declared the same way.
#
#   meldpunt_library(NAME events SRCS a.cc b.cc DEPS meldpunt_proto_events absl::status)
#   meldpunt_test(NAME events_test LABEL unit SRCS codec_test.cc DEPS meldpunt_events)

function(meldpunt_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(meldpunt_${ARG_NAME} STATIC ${ARG_SRCS})
  target_include_directories(meldpunt_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(meldpunt_${ARG_NAME} PUBLIC ${ARG_DEPS})
  target_compile_options(meldpunt_${ARG_NAME} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# LABEL is one or more of unit, component, integration, e2e, chaos, security (a list: LABEL
# "e2e;security"). FIXTURES names the CTest fixtures the test needs (for example redis_kafka,
# which starts a real Redis and Kafka broker).
function(meldpunt_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "LABEL;SRCS;DEPS;FIXTURES" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABEL}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "MELDPUNT_SOURCE_DIR=${PROJECT_SOURCE_DIR};MELDPUNT_BINARY_DIR=${PROJECT_BINARY_DIR};MELDPUNT_TEST_STACK=${PROJECT_BINARY_DIR}/test-stack")
  if(ARG_FIXTURES)
    set_tests_properties(${ARG_NAME} PROPERTIES FIXTURES_REQUIRED "${ARG_FIXTURES}" RESOURCE_LOCK test_stack)
  endif()
endfunction()

# A program's allocator: jemalloc when MELDPUNT_JEMALLOC is on (the top CMakeLists.txt), glibc's
# malloc otherwise. Linked into the executable, its malloc and free take the place of glibc's for
# every library the program loads.
#   meldpunt_allocator(meldpunt-intake)
function(meldpunt_allocator target)
  if(MELDPUNT_JEMALLOC)
    target_link_libraries(${target} PRIVATE PkgConfig::JEMALLOC)
  endif()
endfunction()

# Generates C++ (and, with GRPC, the gRPC service stubs) for one proto package into the build dir.
#   meldpunt_proto(NAME events PROTOS meldpunt/events/v1/events.proto DEPS meldpunt_proto_types)
function(meldpunt_proto)
  cmake_parse_arguments(ARG "GRPC" "NAME" "PROTOS;DEPS" ${ARGN})
  set(out_dir ${PROJECT_BINARY_DIR}/proto)
  set(srcs)
  foreach(proto ${ARG_PROTOS})
    string(REGEX REPLACE "\\.proto$" "" stem ${proto})
    set(outputs ${out_dir}/${stem}.pb.cc ${out_dir}/${stem}.pb.h)
    set(plugin_args)
    if(ARG_GRPC)
      list(APPEND outputs ${out_dir}/${stem}.grpc.pb.cc ${out_dir}/${stem}.grpc.pb.h)
      set(plugin_args --grpc_out=${out_dir} --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>)
    endif()
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
      COMMAND protobuf::protoc --proto_path=${PROJECT_SOURCE_DIR}/proto --cpp_out=${out_dir} ${plugin_args}
              ${PROJECT_SOURCE_DIR}/proto/${proto}
      DEPENDS ${PROJECT_SOURCE_DIR}/proto/${proto} protobuf::protoc
      COMMENT "protoc ${proto}")
    list(APPEND srcs ${outputs})
  endforeach()
  add_library(meldpunt_proto_${ARG_NAME} STATIC ${srcs})
  target_include_directories(meldpunt_proto_${ARG_NAME} PUBLIC ${out_dir})
  target_link_libraries(meldpunt_proto_${ARG_NAME} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  if(ARG_GRPC)
    target_link_libraries(meldpunt_proto_${ARG_NAME} PUBLIC gRPC::grpc++)
  endif()
endfunction()
