# Implements: c2am_use_torch(target): link LibTorch and share one precompiled
# header of <torch/torch.h> between all targets that need tensors.
set(_c2am_pch_owner "" CACHE INTERNAL "")
function(c2am_use_torch target)
  target_link_libraries(${target} PUBLIC c2am_torch)
  if(_c2am_pch_owner STREQUAL "")
    target_precompile_headers(${target} PRIVATE <torch/torch.h>)
    set(_c2am_pch_owner ${target} CACHE INTERNAL "")
  else()
    target_precompile_headers(${target} REUSE_FROM ${_c2am_pch_owner})
  endif()
endfunction()
