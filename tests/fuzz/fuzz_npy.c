// libFuzzer harness for the .npy parser (nn/npy.c), loading to f32 and to f64.
#include <stddef.h>
#include <stdint.h>

#include "nn/data_impl.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tg_clear_error();
    for (int d = 0; d < 2; d++) {
        tg_dtype dt = d ? TG_F64 : TG_F32;
        tg_tensor *t = tg__load_npy_mem("fuzz.npy", data, size, tg_backend_get("cpu"), dt);
        fuzz_check("tg_load_npy", t ? TG_OK : (int)tg_last_status());
        if (!t) continue;
        // every element comes from the file: at least one byte each
        if (tg_dtype_of(t) != dt || tg_numel(t) > (int64_t)size) __builtin_trap();
        fuzz_check_tensor(t, -1);
        if (tg_free(t)) __builtin_trap();
    }
    return 0;
}
