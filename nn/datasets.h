// Internal declaration of the host-side moons generator (tested against sklearn's file).
#pragma once

#include <tapegrad/tapegrad.h>

// x [n,2] and y [n] as doubles, exactly as sklearn.datasets.make_moons(n, noise=noise,
// random_state=seed).
int tg_make_moons_host(int64_t n, double noise, uint32_t seed, double *x, double *y);
