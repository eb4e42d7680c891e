// Every registered op, one line each: X(ID, name) gives the id TG_OP_<ID> and the
// descriptor tg__op_<name>, defined in the file named beside it. Append new ops at the
// end, never reorder (ids are stable). ops/op_table.h and ops/op_table.c expand this list
// into the enum, the declarations and the table; nothing else lists the ops.
#pragma once

#define TG_OP_LIST(X) \
    X(ADD,              add               /* elementwise.c */) \
    X(SUB,              sub               /* elementwise.c */) \
    X(MUL,              mul               /* elementwise.c */) \
    X(DIV,              div               /* elementwise.c */) \
    X(ADD_SCALAR,       add_scalar        /* elementwise.c */) \
    X(SUB_SCALAR,       sub_scalar        /* elementwise.c */) \
    X(RSUB_SCALAR,      rsub_scalar       /* elementwise.c */) \
    X(MUL_SCALAR,       mul_scalar        /* elementwise.c */) \
    X(DIV_SCALAR,       div_scalar        /* elementwise.c */) \
    X(RDIV_SCALAR,      rdiv_scalar       /* elementwise.c */) \
    X(POW_SCALAR,       pow_scalar        /* elementwise.c */) \
    X(NEG,              neg               /* elementwise.c */) \
    X(EXP,              exp               /* elementwise.c */) \
    X(LOG,              log               /* elementwise.c */) \
    X(SQRT,             sqrt              /* elementwise.c */) \
    X(RELU,             relu              /* elementwise.c */) \
    X(SIGMOID,          sigmoid           /* elementwise.c */) \
    X(TANH,             tanh              /* elementwise.c */) \
    X(GT_SCALAR,        gt_scalar         /* elementwise.c */) \
    X(SUM,              sum               /* reduce.c */) \
    X(MATMUL,           matmul            /* matmul.c */) \
    X(RESHAPE,          reshape           /* shape.c */) \
    X(TRANSPOSE,        transpose         /* shape.c */) \
    X(EXPAND,           expand            /* shape.c */) \
    X(ABS,              abs               /* activation.c */) \
    X(SIGN,             sign              /* activation.c */) \
    X(CLAMP,            clamp             /* activation.c */) \
    X(LEAKY_RELU,       leaky_relu        /* activation.c */) \
    X(ELU,              elu               /* activation.c */) \
    X(SOFTPLUS,         softplus          /* activation.c */) \
    X(ERF,              erf               /* activation.c */) \
    X(MAXIMUM,          maximum           /* compare.c */) \
    X(MINIMUM,          minimum           /* compare.c */) \
    X(WHERE,            where             /* compare.c */) \
    X(GT,               gt                /* compare.c */) \
    X(LT,               lt                /* compare.c */) \
    X(GE,               ge                /* compare.c */) \
    X(LE,               le                /* compare.c */) \
    X(EQ,               eq                /* compare.c */) \
    X(NE,               ne                /* compare.c */) \
    X(LT_SCALAR,        lt_scalar         /* compare.c */) \
    X(GE_SCALAR,        ge_scalar         /* compare.c */) \
    X(LE_SCALAR,        le_scalar         /* compare.c */) \
    X(EQ_SCALAR,        eq_scalar         /* compare.c */) \
    X(NE_SCALAR,        ne_scalar         /* compare.c */) \
    X(MAX,              max               /* reduce.c */) \
    X(MIN,              min               /* reduce.c */) \
    X(ARGMAX,           argmax            /* reduce.c */) \
    X(ARGMIN,           argmin            /* reduce.c */) \
    X(PERMUTE,          permute           /* slice.c */) \
    X(SLICE,            slice             /* slice.c */) \
    X(SLICE_SCATTER,    slice_scatter     /* slice.c */) \
    X(CONCAT,           concat            /* slice.c */) \
    X(GATHER,           gather            /* index.c */) \
    X(SCATTER_ADD,      scatter_add       /* index.c */) \
    X(IM2COL,           im2col            /* conv.c */) \
    X(COL2IM,           col2im            /* conv.c */) \
    X(CUSTOM,           custom            /* custom.c */) \
    X(RELU_GRAD,        relu_grad         /* elementwise.c */) \
    X(ADDMM,            addmm             /* matmul.c */) \
    X(XENT,             xent              /* loss.c */) \
    X(XENT_GRAD,        xent_grad         /* loss.c */) \
    X(TANH_GRAD,        tanh_grad         /* elementwise.c */) \
    X(SIGMOID_GRAD,     sigmoid_grad      /* elementwise.c */) \
    X(SOFTMAX,          softmax           /* nnops.c */) \
    X(LOG_SOFTMAX,      log_softmax       /* nnops.c */) \
    X(SOFTMAX_GRAD,     softmax_grad      /* nnops.c */) \
    X(LOG_SOFTMAX_GRAD, log_softmax_grad  /* nnops.c */) \
    X(LAYER_NORM,       layer_norm        /* layernorm.c */) \
    X(LAYER_NORM_GRAD,  layer_norm_grad   /* layernorm.c */) \
    X(ATTENTION,        attention         /* attention.c */) \
    X(ATTENTION_GRAD,   attention_grad    /* attention.c */) \
    X(GELU_TANH,        gelu_tanh         /* activation.c */) \
    X(GELU_TANH_GRAD,   gelu_tanh_grad    /* activation.c */) \
    X(LAYER_NORM_WGRAD, layer_norm_wgrad  /* layernorm.c */) \
    X(SILU,             silu              /* activation.c */) \
    X(SILU_GRAD,        silu_grad         /* activation.c */) \
    X(MAX_POOL2D,       max_pool2d        /* conv.c */) \
    X(MAX_POOL2D_GRAD,  max_pool2d_grad   /* conv.c */)
