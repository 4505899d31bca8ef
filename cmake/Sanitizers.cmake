# Implements: what the two clang projects that compile c2am's torch-free code
# with AddressSanitizer + UndefinedBehaviorSanitizer share: the fuzz harnesses
# (tests/fuzz/harnesses) and the sanitized unit tests (tests/sanitize/unit_tests).
# The flags (every UB check fatal), the Debian libraries, and the lists of
# src/ and data_prep/ files, relative to the repository root. The main build
# never includes this file; its lists are in src/<module>/CMakeLists.txt (a
# file added there and missing here fails the link of the project that needs
# it, naming the missing symbol).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "${PROJECT_NAME} needs clang (ASan + UBSan, libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
endif()
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
get_filename_component(C2AM_ROOT ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)
set(_sanitize -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
add_compile_options(${_sanitize} -O1 -g)
add_link_options(${_sanitize})

find_package(PkgConfig REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(PNG REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
find_library(XXHASH_LIBRARY NAMES xxhash REQUIRED)
# The include folders and libraries of every file below.
add_library(c2am_sanitized_deps INTERFACE)
target_include_directories(c2am_sanitized_deps INTERFACE ${C2AM_ROOT}/src ${HDF5_INCLUDE_DIRS})
target_link_libraries(c2am_sanitized_deps INTERFACE fmt::fmt nlohmann_json::nlohmann_json ${HDF5_C_LIBRARIES} PNG::PNG
                      PkgConfig::TURBOJPEG PkgConfig::TOMLPP ${XXHASH_LIBRARY} Threads::Threads)

# The readers of files c2am takes from outside (what the fuzz harnesses call).
set(C2AM_READER_SOURCES
  src/util/error.cpp src/util/fs.cpp src/util/log.cpp src/util/pickle.cpp src/util/torch_storage.cpp src/util/threads.cpp
  src/image/image.cpp src/image/jpeg.cpp src/image/png.cpp src/image/chw.cpp src/image/resize.cpp
  src/image/resample_window.cpp
  src/config/config.cpp
  src/data/h5_subset.cpp src/data/shard_io.cpp src/data/shards.cpp src/data/manifest.cpp
  src/cams/npy.cpp src/cams/npy_pickle.cpp src/cams/npy_torch.cpp)
# Every torch-free file the sanitized unit tests need: the readers and the
# rest of util, data (all but loader.cpp), cams, synth, data_prep, eval (the
# box protocol and metrics, with OpenCV), monitor (with protobuf) and the
# torch-free WSSS core.
set(C2AM_TORCH_FREE_SOURCES ${C2AM_READER_SOURCES}
  src/util/clock.cpp src/util/memory.cpp src/util/run_signature.cpp
  src/data/cub_layout.cpp
  src/cams/cam_store.cpp src/cams/map_store.cpp src/cams/convert_cams.cpp
  src/synth/synth_draw.cpp src/synth/synth_layouts.cpp
  data_prep/sources.cpp data_prep/sources_imagenet.cpp data_prep/sources_voc.cpp data_prep/pascal_xml.cpp
  data_prep/image_header.cpp data_prep/ordered_pool.cpp data_prep/pack_sample.cpp data_prep/pack_plan.cpp
  data_prep/pack_output.cpp data_prep/pack_lock.cpp data_prep/pack.cpp
  src/eval/boxes.cpp src/eval/corloc.cpp src/eval/maxboxacc.cpp src/eval/heatmap.cpp
  src/monitor/crc32c.cpp src/monitor/tfrecord.cpp src/monitor/event_writer.cpp src/monitor/metrics_scalars.cpp
  src/monitor/run_session.cpp src/monitor/html.cpp src/monitor/svg_chart.cpp src/monitor/report_data.cpp
  src/monitor/report.cpp
  src/wsss/permutohedral.cpp src/wsss/dense_crf.cpp src/wsss/seg_metrics.cpp src/wsss/refine.cpp)
list(TRANSFORM C2AM_READER_SOURCES PREPEND ${C2AM_ROOT}/)
list(TRANSFORM C2AM_TORCH_FREE_SOURCES PREPEND ${C2AM_ROOT}/)
