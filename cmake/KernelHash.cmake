# The name hash of an ahead-of-time fatbin: the first 16 hex digits of the SHA-256 of the module's .cu
# followed by every Kernels/*.cuh in name order (a header edit must change the name, as it changes the
# code). The engine computes the same hash of its embedded copies (KernelSources.FatbinHash) and loads
# only a fatbin whose name matches.
#
# Included by CudaKernels.cmake for vicreg_kernel_hash(); run as a script it prints one module's hash,
# which the tests compare with the engine's:  cmake -D SOURCE=<file.cu> -P cmake/KernelHash.cmake

function(vicreg_kernel_hash source out)
  get_filename_component(dir "${source}" DIRECTORY)
  file(GLOB headers "${dir}/*.cuh")
  list(SORT headers)
  file(READ "${source}" content)
  foreach(header IN LISTS headers)
    file(READ "${header}" text)
    string(APPEND content "${text}")
  endforeach()
  string(SHA256 hash "${content}")
  string(SUBSTRING "${hash}" 0 16 short)
  set(${out} "${short}" PARENT_SCOPE)
endfunction()

if(CMAKE_SCRIPT_MODE_FILE AND DEFINED SOURCE)
  vicreg_kernel_hash("${SOURCE}" _hash)
  message("${_hash}")
endif()
