# Ahead-of-time CUDA kernels, included by the root CMakeLists.txt.
#
# When a CUDA toolkit is found, every engine/Backends/Cuda/Kernels/*.cu is compiled by nvcc into a fatbin
# holding SASS for sm_70, sm_80, sm_86 and sm_90 plus compute_90 PTX (which newer GPUs JIT). Each file is
# named <module>.<hash>.fatbin, the hash covering the .cu and the headers it may include (KernelHash.cmake):
# the engine hashes its embedded copies the same way and loads only a fatbin built from exactly those
# sources, so a stale build is ignored (the engine then compiles with NVRTC as usual). The engine looks in $VICREG_KERNEL_DIR, then in
# kernels/ beside the program. Without a toolkit, configuring succeeds and says the kernels were skipped.
#
#   VICREG_CUDA_ARCHITECTURES   SASS targets (default 70;80;86;90, trimmed to what the toolkit supports)
#   VICREG_KERNEL_OUTPUT_DIR    where the fatbins go (default <build>/kernels); also installed to kernels/

include_guard(GLOBAL)
include(CheckLanguage)
include("${CMAKE_CURRENT_LIST_DIR}/KernelHash.cmake")

set(VICREG_KERNEL_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/../engine/Backends/Cuda/Kernels")
set(VICREG_KERNEL_OUTPUT_DIR "${CMAKE_BINARY_DIR}/kernels" CACHE PATH "Directory for the ahead-of-time CUDA fatbins")
set(VICREG_CUDA_ARCHITECTURES "70;80;86;90" CACHE STRING "SASS architectures of the ahead-of-time CUDA fatbins")

find_package(CUDAToolkit QUIET)
set(_vicreg_nvcc "")
if(CUDAToolkit_FOUND AND CUDAToolkit_NVCC_EXECUTABLE)
  set(_vicreg_nvcc "${CUDAToolkit_NVCC_EXECUTABLE}")
else()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(_vicreg_nvcc "${CMAKE_CUDA_COMPILER}")
  endif()
endif()

if(NOT _vicreg_nvcc)
  message(STATUS "vicreg: no CUDA toolkit (nvcc) found: skipped the ahead-of-time CUDA kernels; "
                 "the engine compiles them at run time with NVRTC")
  return()
endif()

# sm_90 needs CUDA 11.8, sm_86 CUDA 11.1.
set(_vicreg_archs "")
foreach(arch IN LISTS VICREG_CUDA_ARCHITECTURES)
  if(arch GREATER_EQUAL 90 AND CUDAToolkit_VERSION AND CUDAToolkit_VERSION VERSION_LESS 11.8)
    continue()
  endif()
  if(arch GREATER_EQUAL 86 AND CUDAToolkit_VERSION AND CUDAToolkit_VERSION VERSION_LESS 11.1)
    continue()
  endif()
  list(APPEND _vicreg_archs ${arch})
endforeach()
if(NOT _vicreg_archs)
  message(STATUS "vicreg: nvcc ${CUDAToolkit_VERSION} supports none of ${VICREG_CUDA_ARCHITECTURES}: skipped the CUDA kernels")
  return()
endif()

set(_vicreg_gencode "")
foreach(arch IN LISTS _vicreg_archs)
  list(APPEND _vicreg_gencode "-gencode=arch=compute_${arch},code=sm_${arch}")
endforeach()
list(GET _vicreg_archs -1 _vicreg_newest)
list(APPEND _vicreg_gencode "-gencode=arch=compute_${_vicreg_newest},code=compute_${_vicreg_newest}")

file(GLOB _vicreg_kernel_sources CONFIGURE_DEPENDS "${VICREG_KERNEL_SOURCE_DIR}/*.cu")
# The headers the modules #include (the engine hands the same files to NVRTC): any edit rebuilds every fatbin.
file(GLOB _vicreg_kernel_headers CONFIGURE_DEPENDS "${VICREG_KERNEL_SOURCE_DIR}/*.cuh")
set(_vicreg_fatbins "")
foreach(source IN LISTS _vicreg_kernel_sources)
  get_filename_component(module "${source}" NAME_WE)
  # The hash is taken at configure time; editing a .cu or a header re-runs the configure step.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${source}" ${_vicreg_kernel_headers})
  vicreg_kernel_hash("${source}" short_hash)
  set(fatbin "${VICREG_KERNEL_OUTPUT_DIR}/${module}.${short_hash}.fatbin")
  # The same options as the engine's NVRTC compilation (NvrtcCompiler.CommonOptions).
  add_custom_command(
    OUTPUT "${fatbin}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${VICREG_KERNEL_OUTPUT_DIR}"
    COMMAND "${_vicreg_nvcc}" -fatbin -std=c++14 --fmad=true -I "${VICREG_KERNEL_SOURCE_DIR}" ${_vicreg_gencode} -o "${fatbin}" "${source}"
    DEPENDS "${source}" ${_vicreg_kernel_headers}
    COMMENT "nvcc: ${module}.cu -> ${module}.${short_hash}.fatbin (sm_${_vicreg_archs})"
    VERBATIM)
  list(APPEND _vicreg_fatbins "${fatbin}")
endforeach()

add_custom_target(vicreg_cuda_kernels ALL DEPENDS ${_vicreg_fatbins})
# Kernels/ops.cuh (the op enums the kernels switch on) is written by the dotnet build from the C# enums: build that first,
# so nvcc compiles against the current header (a fatbin from an older one carries another hash and is never loaded).
if(TARGET vicreg)
  add_dependencies(vicreg_cuda_kernels vicreg)
endif()
install(FILES ${_vicreg_fatbins} DESTINATION kernels)
message(STATUS "vicreg: CUDA kernels will be built by ${_vicreg_nvcc} for sm_${_vicreg_archs} into ${VICREG_KERNEL_OUTPUT_DIR}")
