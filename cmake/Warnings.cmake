# Implements: compiler warnings as an INTERFACE target (c2am::warnings).
add_library(c2am_warnings INTERFACE)
add_library(c2am::warnings ALIAS c2am_warnings)
target_compile_options(c2am_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wcast-align
  -Wunused -Woverloaded-virtual -Wformat=2
  $<$<BOOL:${C2AM_WARNINGS_AS_ERRORS}>:-Werror>)
