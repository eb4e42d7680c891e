// libFuzzer harness for the safetensors parser (nn/safetensors_fmt.c), through both of its
// users: loading into a Linear(2 -> 3) f32 module ("weight" [3,2], "bias" [3], as
// tests/fixtures' linear_2_3.safetensors), where a failed load must leave the module's
// values untouched; and tg_checkpoint_load (nn/checkpoint.c, metadata included), whose
// result must then restore the module cleanly or fail cleanly.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nn/data_impl.h"
#include "nn/safetensors_impl.h"
#include "tests/fuzz/fuzz_util.h"

static tg_module *net;

// The module's 9 values (weight then bias).
static void snapshot(float out[9]) {
    if (tg_copy_to_host(tg_module_param(net, 0), out, 6 * sizeof(float)) ||
        tg_copy_to_host(tg_module_param(net, 1), out + 6, 3 * sizeof(float)))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tg_clear_error();
    if (!net) {
        tg_rng *rng = tg_rng_new(1);
        net = tg_linear(tg_backend_get("cpu"), TG_F32, 2, 3, true, rng);
        tg_rng_free(rng);
        if (!net || tg_module_n_params(net) != 2) __builtin_trap();
    }
    float before[9], after[9];
    snapshot(before);
    int st = tg__load_safetensors_mem(net, "fuzz.safetensors", data, size);
    fuzz_check("tg_load_safetensors", st);
    snapshot(after);
    if (st && memcmp(before, after, sizeof before) != 0) __builtin_trap();
    tg_checkpoint *c = tg__checkpoint_load_mem("fuzz.safetensors", data, size);
    fuzz_check("tg_checkpoint_load", c ? TG_OK : (int)tg_last_status());
    if (c) {
        const char *v = tg_checkpoint_meta(c, "format");   // present or a clean miss
        if (!v) fuzz_check("tg_checkpoint_meta", (int)tg_last_status());
        tg_rng *rng = tg_rng_new(1);
        st = tg_checkpoint_restore_rng(c, "rng", rng);
        fuzz_check("tg_checkpoint_restore_rng", st);
        tg_rng_free(rng);
        snapshot(before);
        st = tg_checkpoint_restore_module(c, "", net);
        fuzz_check("tg_checkpoint_restore_module", st);
        snapshot(after);
        if (st && memcmp(before, after, sizeof before) != 0) __builtin_trap();
        tg_checkpoint_free(c);
    }
    return 0;
}
