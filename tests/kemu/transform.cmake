# tests/kemu/transform.cmake — cmake -DIN=kernel.cu -DOUT=kernel.kemu.cpp -P transform.cmake
# Rewrites the two pieces of CUDA syntax C++ cannot parse, for kemu (tests/kemu/kemu.h):
#   k<T, D><<<grid, block, smem, stream>>>(args)  ->  kemu::launch("k<T, D>", k<T, D>, grid, block, smem, stream)(args)
#   extern __shared__ __align__(n) T s[];          ->  T *s = (T *)kemu::dynamic_shared();
# and points diagnostics at the original file (#line). Everything else compiles as it is.
file(READ "${IN}" src)
string(REGEX REPLACE "([A-Za-z_][A-Za-z_0-9]*(<[^;<>]*>)?)<<<([^;]*)>>>\\("
       "kemu::launch(\"\\1\", \\1, \\3)(" src "${src}")
string(REGEX REPLACE "extern __shared__ (__align__\\([0-9]+\\) )?([A-Za-z_ ]*[A-Za-z_]) ([A-Za-z_][A-Za-z_0-9]*)\\[\\];"
       "\\2 *\\3 = (\\2 *)kemu::dynamic_shared();" src "${src}")
if(src MATCHES "<<<|extern __shared__")
  message(FATAL_ERROR "${IN}: a launch or a dynamic shared array kemu's rewrite did not recognise")
endif()
file(WRITE "${OUT}.tmp" "#line 1 \"${IN}\"\n${src}")
file(RENAME "${OUT}.tmp" "${OUT}")
