// libFuzzer harness for the IDX parser (nn/idx.c): labels [n] or images [n, rows*cols].
#include <stddef.h>
#include <stdint.h>

#include "nn/data_impl.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tg_clear_error();
    for (int d = 0; d < 2; d++) {
        tg_dtype dt = d ? TG_F64 : TG_F32;
        tg_tensor *t =
            tg__load_idx_mem("fuzz.idx", data, size, tg_backend_get("cpu"), dt, 1.0 / 255);
        fuzz_check("tg_load_idx", t ? TG_OK : (int)tg_last_status());
        if (!t) continue;
        // one byte per element after an 8-byte (labels) or 16-byte (images) header
        int64_t want = (int64_t)size - (tg_ndim(t) == 1 ? 8 : 16);
        if (tg_dtype_of(t) != dt || tg_ndim(t) < 1 || tg_ndim(t) > 2) __builtin_trap();
        fuzz_check_tensor(t, want);
        if (tg_free(t)) __builtin_trap();
    }
    return 0;
}
