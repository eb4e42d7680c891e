#!/usr/bin/env python3
"""Data-parallel scaling of mnist-mlp, tapegrad against PyTorch DDP, in one run (issue 14).

Configurations, each with a batch of 256 images per process (MLP 784-1024-1024-10, f32,
Adam 1e-3, cross-entropy, synthetic data):
  1x1  one process, one thread          (tapegrad: tg-bench-ddp --plain)
  1x2  one process, two threads
  2x1  two processes, one thread each   (tapegrad: mpirun -np 2; PyTorch: DDP over gloo)
Prints images/s (median step of each round, best round) and the speed-ups over 1x1.

  python3 bench/compare_ddp.py --tg-bench-ddp build/bench/tg-bench-ddp --rounds 3
"""
import argparse
import json
import os
import subprocess
import sys
import time

BATCH, IN, HIDDEN, OUT = 256, 784, 1024, 10


def tg_run(exe, ranks, threads, steps):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMP_NUM_THREADS=str(threads))
    cmd = [exe, "--threads", str(threads), "--steps", str(steps)]
    if ranks == 1:
        cmd.append("--plain")
    else:
        cmd = ["mpirun", "-np", str(ranks)] + cmd
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    return json.loads(line)


def torch_worker(rank, ranks, threads, steps, port, queue):
    import torch
    import torch.distributed as dist
    torch.set_num_threads(threads)
    if ranks > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        dist.init_process_group("gloo", rank=rank, world_size=ranks)
    torch.manual_seed(1 + rank)
    net = torch.nn.Sequential(torch.nn.Linear(IN, HIDDEN), torch.nn.ReLU(),
                              torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.ReLU(),
                              torch.nn.Linear(HIDDEN, OUT))
    model = torch.nn.parallel.DistributedDataParallel(net) if ranks > 1 else net
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(BATCH, IN)
    y = torch.randint(0, OUT, (BATCH,))
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    for i in range(3 + steps):
        if ranks > 1:
            dist.barrier()
        t0 = time.perf_counter()
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    if ranks > 1:
        t = torch.tensor(times, dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        times = t.tolist()
        dist.destroy_process_group()
    if rank == 0:
        queue.put(sorted(times)[len(times) // 2])


def torch_run(ranks, threads, steps, port):
    import torch.multiprocessing as mp
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=torch_worker, args=(r, ranks, threads, steps, port, queue))
             for r in range(ranks)]
    for p in procs:
        p.start()
    step = queue.get(timeout=600)
    for p in procs:
        p.join()
    return {"step_ms": 1e3 * step, "images_per_s": ranks * BATCH / step}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tg-bench-ddp", default="build/bench/tg-bench-ddp")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    configs = [("1x1", 1, 1), ("1x2", 1, 2), ("2x1", 2, 1)]
    best = {}
    for rnd in range(args.rounds):
        for name, ranks, threads in configs:
            r = tg_run(args.tg_bench_ddp, ranks, threads, args.steps)
            key = ("tapegrad", name)
            if key not in best or r["images_per_s"] > best[key]["images_per_s"]:
                best[key] = r
            if not args.no_torch:
                t = torch_run(ranks, threads, args.steps, 29500 + rnd * 7 + ranks * 3 + threads)
                key = ("pytorch", name)
                if key not in best or t["images_per_s"] > best[key]["images_per_s"]:
                    best[key] = t
        print("round %d done" % (rnd + 1), file=sys.stderr)
    print("| config | tapegrad images/s | speed-up | exposed comm ms | PyTorch images/s | "
          "speed-up | tapegrad / PyTorch |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, _, _ in configs:
        tg = best[("tapegrad", name)]
        base = best[("tapegrad", "1x1")]["images_per_s"]
        row = "| %s | %.0f | %.2fx | %.2f |" % (name, tg["images_per_s"],
                                                tg["images_per_s"] / base, tg["exposed_comm_ms"])
        if ("pytorch", name) in best:
            pt = best[("pytorch", name)]
            pbase = best[("pytorch", "1x1")]["images_per_s"]
            row += " %.0f | %.2fx | %.2fx |" % (pt["images_per_s"], pt["images_per_s"] / pbase,
                                               tg["images_per_s"] / pt["images_per_s"])
        else:
            row += " - | - | - |"
        print(row)


if __name__ == "__main__":
    main()
