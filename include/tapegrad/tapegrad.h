// tapegrad: reverse-mode automatic differentiation in C.
// The umbrella header: include this one. See README.md for the tour and the
// ownership rules (persistent vs. step tensors).
#pragma once

#include "tapegrad/defs.h"
#include "tapegrad/error.h"
#include "tapegrad/tensor.h"
#include "tapegrad/tape.h"
#include "tapegrad/ops.h"
#include "tapegrad/gradcheck.h"
#include "tapegrad/nn.h"
#include "tapegrad/optim.h"
#include "tapegrad/data.h"
#include "tapegrad/progress.h"
