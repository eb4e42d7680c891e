// libFuzzer harness for the CSV parser (nn/csv.c): every input is parsed three ways (no
// header, no label, f32; header, last column as label, f64; first column as label, f32).
#include <stddef.h>
#include <stdint.h>

#include "nn/data_impl.h"
#include "tests/fuzz/fuzz_util.h"

static void one(const uint8_t *data, size_t size, bool header, int label, tg_dtype dt) {
    tg_tensor *x = NULL, *y = NULL;
    int st = tg__load_csv_mem("fuzz.csv", (const char *)data, size, tg_backend_get("cpu"), dt,
                              header, label, &x, &y);
    fuzz_check("tg_load_csv", st);
    if (st) {
        if (x || y) __builtin_trap();
        return;
    }
    if (!x || tg_ndim(x) != 2 || tg_dtype_of(x) != dt) __builtin_trap();
    fuzz_check_tensor(x, -1);
    if (label != TG_NO_LABEL) {
        if (!y || tg_ndim(y) != 1 || tg_shape(y)[0] != tg_shape(x)[0]) __builtin_trap();
        fuzz_check_tensor(y, -1);
    }
    if (tg_free(x) || tg_free(y)) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tg_clear_error();
    one(data, size, false, TG_NO_LABEL, TG_F32);
    one(data, size, true, -1, TG_F64);
    one(data, size, false, 0, TG_F32);
    return 0;
}
