// One kernel variant, all of it: the kernel files included into one translation unit, and
// its table of compute slots. Compiled once per instruction-set variant through
// kernels_<isa>.c (meson builds each with that variant's flags), so everything here is
// static and the variants link side by side; kernels_<isa>.c exports the table.
#include "backends/cpu/cpu_internal.h"

#include "backends/cpu/iterate.c"
#include "backends/cpu/elementwise.c"
#include "backends/cpu/reduce.c"
#include "backends/cpu/gemm_small.c"
#include "backends/cpu/gemm_thin.c"
#include "backends/cpu/transpose.c"
#include "backends/cpu/gemm_narrow.c"
#include "backends/cpu/gemm_tall.c"
#include "backends/cpu/gemm_own.c"
#include "backends/cpu/gemm.c"
#include "backends/cpu/index.c"
#include "backends/cpu/softmax.c"
#include "backends/cpu/sums.c"
#include "backends/cpu/layernorm.c"
#include "backends/cpu/attention.c"
#include "backends/cpu/pool.c"
#include "backends/cpu/batchnorm.c"
#include "backends/cpu/conv.c"

static const struct tg_backend_ops kernels = {
    .fill = tg_cpu_fill,
    .unary = tg_cpu_unary,
    .binary = tg_cpu_binary,
    .reduce = tg_cpu_reduce,
    .gemm = tg_cpu_gemm,
    .update = tg_cpu_update,
    .cast = tg_cpu_cast,
    .where = tg_cpu_where,
    .gather = tg_cpu_gather,
    .scatter_add = tg_cpu_scatter_add,
    .im2col = tg_cpu_im2col,
    .col2im = tg_cpu_col2im,
    .xent = tg_cpu_xent,
    .xent_grad = tg_cpu_xent_grad,
    .adam_step = tg_cpu_adam_step,
    .softmax = tg_cpu_softmax,
    .softmax_grad = tg_cpu_softmax_grad,
    .layer_norm = tg_cpu_layer_norm,
    .layer_norm_grad = tg_cpu_layer_norm_grad,
    .layer_norm_wgrad = tg_cpu_layer_norm_wgrad,
    .attention = tg_cpu_attention,
    .attention_grad = tg_cpu_attention_grad,
    .max_pool = tg_cpu_max_pool,
    .batch_norm = tg_cpu_batch_norm,
    .conv = tg_cpu_conv,
    .gemm_ep = tg_cpu_gemm_ep,
};
