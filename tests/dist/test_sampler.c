// Each rank's shard of the data (tg_dist_shard, tg_dist_loader): pure functions of
// (n, seed, epoch, rank, size), so they are tested here without MPI. The loader test runs
// in a group of one (a singleton MPI process, no mpirun).
#include <criterion/criterion.h>
#include <stdlib.h>
#include <tapegrad/tapegrad.h>
#include <tapegrad/dist.h>

Test(shard, sizes_pad_or_drop) {
    cr_expect_eq(tg_dist_shard_size(10, 3, false), 4);
    cr_expect_eq(tg_dist_shard_size(10, 3, true), 3);
    cr_expect_eq(tg_dist_shard_size(9, 3, false), 3);
    cr_expect_eq(tg_dist_shard_size(2, 3, false), 1);  // more ranks than rows: padded
}

Test(shard, bad_arguments_are_errors) {
    cr_expect_eq(tg_dist_shard_size(2, 3, true), -1);
    cr_expect(strstr(tg_last_error(), "3 ranks but only 2 rows"), "%s", tg_last_error());
    tg_clear_error();
    cr_expect_eq(tg_dist_shard_size(0, 2, false), -1);
    tg_clear_error();
    cr_expect_eq(tg_dist_shard_size(5, 0, false), -1);
    tg_clear_error();
    int64_t out[4];
    cr_expect_eq(tg_dist_shard(8, 1, 0, 2, 2, false, out), TG_ERR_INVALID_ARG);
    cr_expect(strstr(tg_last_error(), "rank 2 is not in [0, 2)"), "%s", tg_last_error());
    tg_clear_error();
    cr_expect_eq(tg_dist_shard(8, 1, 0, 0, 2, false, NULL), TG_ERR_INVALID_ARG);
    tg_clear_error();
}

// The shards of one epoch are disjoint and cover every row once (n divisible by size).
Test(shard, shards_partition_the_rows) {
    enum {
        N = 30,
        SIZE = 3
    };
    int seen[N] = {0};
    for (int r = 0; r < SIZE; r++) {
        int64_t out[N / SIZE];
        cr_assert_eq(tg_dist_shard(N, 7, 4, r, SIZE, false, out), TG_OK);
        for (int j = 0; j < N / SIZE; j++) seen[out[j]]++;
    }
    for (int i = 0; i < N; i++) cr_expect_eq(seen[i], 1, "row %d seen %d times", i, seen[i]);
}

// Padding repeats the head of the permutation: 10 rows on 4 ranks give 12 positions.
Test(shard, padding_repeats_the_first_rows) {
    int seen[10] = {0};
    for (int r = 0; r < 4; r++) {
        int64_t out[3];
        cr_assert_eq(tg_dist_shard(10, 7, 0, r, 4, false, out), TG_OK);
        for (int j = 0; j < 3; j++) seen[out[j]]++;
    }
    int twice = 0;
    for (int i = 0; i < 10; i++) {
        cr_expect(seen[i] == 1 || seen[i] == 2);
        twice += seen[i] == 2;
    }
    cr_expect_eq(twice, 2);
}

// Same (seed, epoch): same shard; another epoch or seed: another order.
Test(shard, seeded_per_epoch) {
    int64_t a[50], b[50], c[50], e[50];
    cr_assert_eq(tg_dist_shard(100, 9, 1, 1, 2, false, a), TG_OK);
    cr_assert_eq(tg_dist_shard(100, 9, 1, 1, 2, false, b), TG_OK);
    cr_assert_eq(tg_dist_shard(100, 9, 2, 1, 2, false, c), TG_OK);
    cr_assert_eq(tg_dist_shard(100, 10, 1, 1, 2, false, e), TG_OK);
    cr_expect_eq(memcmp(a, b, sizeof a), 0);
    cr_expect_neq(memcmp(a, c, sizeof a), 0);
    cr_expect_neq(memcmp(a, e, sizeof a), 0);
}

// The loader in a group of one: every row once per epoch, batches of the asked size with a
// partial last one, labels travel with their rows, a new order per epoch.
Test(loader, group_of_one_covers_every_row) {
    tg_dist *d = tg_dist_init(NULL, NULL);
    cr_assert(d, "%s", tg_last_error());
    cr_expect_eq(tg_dist_size(d), 1);
    double xs[14], ys[7];
    for (int i = 0; i < 7; i++) xs[2 * i] = xs[2 * i + 1] = ys[i] = i;
    tg_backend *cpu = tg_backend_get("cpu");
    tg_tensor *x = tg_tensor_from(cpu, TG_F64, 2, (int64_t[]){7, 2}, xs);
    tg_tensor *y = tg_tensor_from(cpu, TG_F64, 1, (int64_t[]){7}, ys);
    tg_dist_loader *l = tg_dist_loader_new(d, x, y, 3, false, 5);
    cr_assert(l, "%s", tg_last_error());
    cr_expect_eq(tg_dist_loader_n_batches(l), 3);
    cr_expect_eq(tg_dist_loader_rows(l), 7);
    double order[2][7];
    for (int epoch = 0; epoch < 2; epoch++) {
        cr_assert_eq(tg_dist_loader_set_epoch(l, epoch), TG_OK);
        tg_tensor *xb, *yb;
        int seen[7] = {0}, k = 0;
        while (tg_dist_loader_next(l, &xb, &yb)) {
            cr_expect_eq(tg_shape(xb)[0], k < 6 ? 3 : 1);
            for (int64_t i = 0; i < tg_shape(xb)[0]; i++) {
                double v = tg_data_f64(xb)[2 * i];
                cr_expect_eq(v, tg_data_f64(yb)[i]);
                seen[(int)v]++;
                order[epoch][k++] = v;
            }
        }
        for (int i = 0; i < 7; i++) cr_expect_eq(seen[i], 1);
    }
    cr_expect_neq(memcmp(order[0], order[1], sizeof order[0]), 0);
    cr_expect_eq(tg_dist_loader_free(l), TG_OK);
    tg_free(x);
    tg_free(y);
    cr_expect_eq(tg_dist_free(d), TG_OK);
}
