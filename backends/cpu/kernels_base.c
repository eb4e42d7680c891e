// The base kernel variant (see kernels.c; meson compiles this file with its flags).
#include "backends/cpu/kernels.c"

const struct tg_backend_ops *const tg_cpu_kernels_base = &kernels;
