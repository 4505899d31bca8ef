# Implements: finding every third-party dependency once, as imported targets.
# All come from Debian packages (see docs/dependencies.md); nothing is fetched.
find_package(Threads REQUIRED)
find_package(Torch REQUIRED)            # Debian libtorch-dev, or PyTorch's LibTorch on the GPU machine
find_package(fmt REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)
find_package(PNG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json REQUIRED)
# OpenCV imgproc (contours) from libopencv-imgproc-dev, which ships no CMake config.
find_path(OPENCV_INCLUDE_DIR NAMES opencv2/imgproc.hpp PATH_SUFFIXES opencv4 REQUIRED)
find_library(OPENCV_CORE_LIBRARY NAMES opencv_core REQUIRED)
find_library(OPENCV_IMGPROC_LIBRARY NAMES opencv_imgproc REQUIRED)
add_library(c2am_opencv INTERFACE)
target_link_libraries(c2am_opencv INTERFACE ${OPENCV_IMGPROC_LIBRARY} ${OPENCV_CORE_LIBRARY})
target_include_directories(c2am_opencv SYSTEM INTERFACE ${OPENCV_INCLUDE_DIR})
# Debian names OpenMPI's compiler wrappers mpicxx.openmpi etc. (the plain
# names are alternatives links that an unpacked .deb, as on the GPU machine,
# lacks), and FindMPI ignores MPI_CXX_COMPILER from the environment.
if(NOT DEFINED MPI_EXECUTABLE_SUFFIX AND NOT MPI_CXX_COMPILER)
  find_program(_c2am_plain_mpicxx NAMES mpicxx mpic++ mpiCC)
  find_program(_c2am_openmpi_mpicxx NAMES mpicxx.openmpi)
  if(NOT _c2am_plain_mpicxx AND _c2am_openmpi_mpicxx)
    set(MPI_EXECUTABLE_SUFFIX .openmpi)
    message(STATUS "c2am: MPI wrappers found as *.openmpi (MPI_EXECUTABLE_SUFFIX=.openmpi)")
  endif()
endif()
find_package(MPI REQUIRED COMPONENTS CXX)
find_package(HDF5 COMPONENTS C)
find_library(XXHASH_LIBRARY NAMES xxhash REQUIRED)
find_path(XXHASH_INCLUDE_DIR NAMES xxhash.h REQUIRED)
add_library(c2am_xxhash INTERFACE)
target_link_libraries(c2am_xxhash INTERFACE ${XXHASH_LIBRARY})
target_include_directories(c2am_xxhash SYSTEM INTERFACE ${XXHASH_INCLUDE_DIR})

# LibTorch's exported flags, as one INTERFACE target so torch users stay uniform.
add_library(c2am_torch INTERFACE)
target_link_libraries(c2am_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(c2am_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
target_compile_options(c2am_torch INTERFACE ${TORCH_CXX_FLAGS_LIST})
if(TORCH_CXX_FLAGS)
  separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
  target_compile_options(c2am_torch INTERFACE ${_torch_flags})
endif()
string(REGEX MATCH "_GLIBCXX_USE_CXX11_ABI=[01]" C2AM_TORCH_ABI "${TORCH_CXX_FLAGS}")
if(NOT C2AM_TORCH_ABI)
  set(C2AM_TORCH_ABI "_GLIBCXX_USE_CXX11_ABI not set by LibTorch (compiler default)")
endif()

# fmt: PyTorch's wheel (>= 2.10) ships its own fmt headers (fmt 12) in its
# include folder; c2am compiles and links against the fmt package (Debian's
# libfmt). Its include folder goes first, so <fmt/...> is always the library
# that is linked. (Debian's LibTorch shares /usr/include with libfmt-dev:
# nothing to do there.)
get_target_property(_fmt_include fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
foreach(_dir IN LISTS TORCH_INCLUDE_DIRS)
  if(_fmt_include AND EXISTS "${_dir}/fmt/core.h" AND NOT _dir IN_LIST _fmt_include)
    if(_fmt_include IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
      message(WARNING "c2am: ${_dir}/fmt (LibTorch's copy) shadows fmt's headers in ${_fmt_include}, a compiler "
                      "default folder that cannot be put first; install fmt under another prefix (docs/gpu.md)")
    else()
      target_include_directories(c2am_torch BEFORE SYSTEM INTERFACE ${_fmt_include})
      message(STATUS "c2am: fmt headers from ${_fmt_include}, before LibTorch's copy in ${_dir}/fmt")
    endif()
    break()
  endif()
endforeach()

# CUDA: a CUDA build of LibTorch (torch_cuda exists). CUDA 13 moved the CCCL
# headers (cub, thrust, libcu++: <nv/target>) to include/cccl, which CMake
# adds for CUDA::cudart only from 3.31.9 on: added here.
set(C2AM_WITH_CUDA OFF)
if(TORCH_CUDA_LIBRARIES OR TARGET torch_cuda)
  set(C2AM_WITH_CUDA ON)
  find_path(C2AM_CCCL_INCLUDE_DIR nv/target
            PATHS ${CUDAToolkit_INCLUDE_DIRS} ${CUDAToolkit_ROOT}/include $ENV{CUDA_HOME}/include /usr/local/cuda/include
            PATH_SUFFIXES cccl NO_DEFAULT_PATH)
  if(C2AM_CCCL_INCLUDE_DIR)
    target_include_directories(c2am_torch SYSTEM INTERFACE ${C2AM_CCCL_INCLUDE_DIR})
  else()
    message(WARNING "c2am: <nv/target> (CUDA's CCCL headers) not found under ${CUDAToolkit_INCLUDE_DIRS}")
  endif()
endif()

# NCCL (GPU machine only: the nvidia-nccl-cu13 wheel, found through NCCL_HOME)
# with a CUDA build of LibTorch. Without both, the MPI backend carries
# everything (CUDA tensors staged through host memory). With NCCL_HOME only
# that folder is searched, so a system libnccl never wins over the wheel's
# (which ships libnccl.so.2 without the libnccl.so link).
set(C2AM_WITH_NCCL OFF)
set(C2AM_NCCL_SUMMARY "")
if(C2AM_WITH_CUDA)
  if(NOT NCCL_HOME AND DEFINED ENV{NCCL_HOME})
    set(NCCL_HOME "$ENV{NCCL_HOME}")
  endif()
  if(NCCL_HOME)
    find_path(NCCL_INCLUDE_DIR NAMES nccl.h PATHS ${NCCL_HOME} PATH_SUFFIXES include NO_DEFAULT_PATH)
    find_library(NCCL_LIBRARY NAMES libnccl.so.2 nccl NAMES_PER_DIR PATHS ${NCCL_HOME} PATH_SUFFIXES lib lib64
                 NO_DEFAULT_PATH)
  else()
    find_path(NCCL_INCLUDE_DIR NAMES nccl.h)
    find_library(NCCL_LIBRARY NAMES libnccl.so.2 nccl NAMES_PER_DIR)
  endif()
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    add_library(c2am_nccl INTERFACE)
    target_link_libraries(c2am_nccl INTERFACE ${NCCL_LIBRARY})
    target_include_directories(c2am_nccl SYSTEM INTERFACE ${NCCL_INCLUDE_DIR})
    set(C2AM_WITH_NCCL ON)
    file(STRINGS "${NCCL_INCLUDE_DIR}/nccl.h" _nccl_version REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) ")
    string(REGEX REPLACE "[^0-9;]" "" _nccl_version "${_nccl_version}")
    string(REPLACE ";" "." _nccl_version "${_nccl_version}")
    set(C2AM_NCCL_SUMMARY " (${_nccl_version}, ${NCCL_LIBRARY})")
  elseif(NCCL_HOME)
    message(WARNING "c2am: NCCL_HOME=${NCCL_HOME} has no include/nccl.h and lib/libnccl.so.2: building without NCCL")
  endif()
endif()
message(STATUS "c2am: LibTorch ${Torch_VERSION}, CUDA ${C2AM_WITH_CUDA}, NCCL backend ${C2AM_WITH_NCCL}"
               "${C2AM_NCCL_SUMMARY}, ${C2AM_TORCH_ABI}")
