#!/usr/bin/python3
"""tapegrad vs PyTorch on the configurations of tg-bench (issue 6), in the same run.

Runs `tg-bench --json --config X` and the same configuration in PyTorch (a worker process
of this script) one after the other, alternating which goes first, for --rounds rounds,
with one thread count for both: torch.set_num_threads(N) in the worker and
OMP_NUM_THREADS / BLIS_NUM_THREADS / MKL_NUM_THREADS / OPENBLAS_NUM_THREADS = N in the
environment of both processes before they start (Debian's PyTorch does its gemm through
BLIS, which reads the environment, not torch.set_num_threads).

PyTorch runs twice per round (--torch-blis both, the default), because its gemm speed
depends on which kernels BLIS picks: "as installed" (Debian's BLIS 0.9 detects the CPU by
itself; on AMD Zen 5 it falls back to its slow 'generic' kernels), and "same kernels", with
BLIS_ARCH_TYPE set to the kernel set tapegrad chose (tg-bench's machine.blis_arch_id; pure
BLIS, without the small-matrix path tapegrad borrows from another set). Each worker runs
with BLIS_ARCH_DEBUG=1, so the set BLIS really used is read back and printed in the header.
The targets (`target` column) are judged against the faster PyTorch: per round and per
figure, the smaller of the two times.

PyTorch's medians swing between runs while its min and p10 stay put, so the table shows
min and median for each side and takes each ratio (PyTorch / tapegrad: > 1 means tapegrad
is faster) inside one round, then the median of those per-round ratios. GFLOP/s cells add
tapegrad's fraction of the machine's FMA peak (tg-bench's probe, same dtype and threads).

  /usr/bin/python3 bench/compare_torch.py --threads 1 --rounds 3
  /usr/bin/python3 bench/compare_torch.py --threads 2 --configs mnist-mlp,wide --markdown
  /usr/bin/python3 bench/compare_torch.py --torch-blis installed   # PyTorch once, as before
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

# ---- the configurations (kept in step with bench/bench_mlp.c and bench/bench_ops.c) ----

MLPS = {  # name: (layer sizes, batch, optimizer, lr, loss)
    "tiny-sgd": ([2, 20, 40, 20, 2], 10, "sgd", 0.015, "ce"),
    "seed-diabetes": ([8, 20, 20, 2], 614, "adam", 0.01, "ce"),
    "seed-moons": ([2, 20, 20, 2], 8000, "adam", 0.01, "ce"),
    "mnist-mlp": ([784, 1024, 1024, 10], 256, "adam", 0.001, "ce"),
    "wide": ([1024, 4096, 4096, 1024], 512, "adam", 0.001, "mse"),
    "mem-floor": ([32, 1024, 1024, 10], 1, "adam", 0.001, "ce"),
}
CHAIN_LEN = 100
OPS = {  # name: (kind, dims) as in bench_ops.c
    "matmul-10x2x20": ("matmul", (10, 2, 20)),
    "matmul-64": ("matmul", (64, 64, 64)),
    "matmul-256": ("matmul", (256, 256, 256)),
    "matmul-1024": ("matmul", (1024, 1024, 1024)),
    "add-bcast-10x20": ("add", (10, 20)),
    "add-bcast-1000x1000": ("add", (1000, 1000)),
    "relu-10x20": ("relu", (10, 20)),
    "relu-1000x1000": ("relu", (1000, 1000)),
    "softmax-10x20": ("softmax", (10, 20)),
    "softmax-256x1000": ("softmax", (256, 1000)),
    "cross_entropy-10x2": ("ce", (10, 2)),
    "cross_entropy-8000x2": ("ce", (8000, 2)),
    "cross_entropy-256x1000": ("ce", (256, 1000)),
    "conv2d-8x3x32x32-16k3": ("conv2d", (8, 3, 32, 32, 16, 3)),
    "conv2d-64x1x28x28-32k5": ("conv2d", (64, 1, 28, 28, 32, 5)),
    "conv2d-32x16x32x32-32k3": ("conv2d", (32, 16, 32, 32, 32, 3)),
    "conv2d-32x64x7x7-64k3": ("conv2d", (32, 64, 7, 7, 64, 3)),
}
# The transformer configurations (bench/bench_gpt.c): gpt-mini is examples/gpt's model built
# from tests/fixtures/gen_gpt.py's reference classes, batch 32 of random ids, AdamW.
GPTS = {"gpt-mini": dict(vocab_size=96, block_size=64, n_layer=4, n_head=4, n_embd=128,
                         batch=32)}
# The CNN configuration (bench/bench_cnn.c): examples/fashion.c's CNN in training mode,
# batch 64 of random 28 x 28 images, Adam.
CNNS = {"fashion-cnn": dict(batch=64)}
OPS.update({  # attention: q, k, v [B,H,T,D], causal, torch 1.13's composed form
    "attention-32x4x64x32": ("attention", (32, 4, 64, 32)),
    "attention-8x4x256x32": ("attention", (8, 4, 256, 32)),
    "layer_norm-2048x128": ("layer_norm", (2048, 128)),
    "layer_norm-2048x512": ("layer_norm", (2048, 512)),
})
# Issue 6's targets: (minimum speed-up PyTorch/tapegrad, maximum step/gemm or None); issue
# 15's for gpt-mini.
TARGETS = {"tiny-sgd": (50, None), "chain100": (50, None), "seed-diabetes": (5, None),
           "seed-moons": (5, None), "mnist-mlp": (1.15, 1.10), "wide": (1.15, 1.10),
           "gpt-mini": (1.3, 1.25), "fashion-cnn": (1.2, None)}
THREAD_VARS = ("OMP_NUM_THREADS", "BLIS_NUM_THREADS", "MKL_NUM_THREADS",
               "OPENBLAS_NUM_THREADS")
# The PyTorch runs: side name -> label in the tables.
TORCH_SIDES = {"torch": "as installed", "torch_same": "same kernels"}
TIME_FIELDS = ("median_s", "min_s", "p10_s")


def expand(names):
    """Comma list -> groups of configuration names; each group runs in one process."""
    groups = []
    for name in names.split(","):
        name = name.strip()
        if name == "all":
            groups += ([[m] for m in MLPS] + [["chain100"], list(OPS)] + [[g] for g in GPTS] +
                       [[c] for c in CNNS])
        elif name in GPTS or name in CNNS:
            groups.append([name])
        elif name == "mlp":
            groups += [[m] for m in MLPS]
        elif name == "ops":
            groups.append(list(OPS))
        elif name in MLPS or name == "chain100" or name in OPS:
            groups.append([name])
        elif any(o.startswith(name + "-") for o in OPS):
            groups.append([o for o in OPS if o.startswith(name + "-")])
        elif name:
            sys.exit(f"compare_torch: unknown configuration {name!r}")
    return groups


# ---- the PyTorch side (worker process) ----

def measure(fn, min_time, quick, min_reps=5, max_reps=200000):
    """Warm-up, then adaptive repetitions of fn() (which returns its timed seconds)."""
    start, est, i = time.monotonic(), float("inf"), 0
    while True:
        est = min(est, fn())
        wall = time.monotonic() - start
        if quick or (i >= 2 and wall >= 0.1 * min_time) or wall >= 1.0:
            break
        i += 1
    if quick:
        reps = 1 if est > 0.25 else 2
    else:
        lo = 3 if est > 0.5 else min_reps
        reps = int(max(lo, min(max_reps, -(-min_time // max(est, 1e-9)))))
    s = sorted(fn() for _ in range(reps))
    n = len(s)
    med = s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
    return {"reps": n, "median_s": med, "min_s": s[0], "max_s": s[-1],
            "p10_s": s[int(0.1 * (n - 1) + 0.5)], "mean_s": sum(s) / n}


def torch_worker(args):
    import resource
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    dtype = torch.float64 if args.dtype == "f64" else torch.float32
    torch.set_default_dtype(dtype)
    if args.clock == "cpu":
        now = lambda: time.clock_gettime(time.CLOCK_PROCESS_CPUTIME_ID)  # noqa: E731
    else:
        now = time.perf_counter
    results = []

    def emit(config, figure, fn, flops=0.0, per_op=0):
        r = {"config": config, "figure": figure}
        r.update(measure(fn, args.min_time, args.quick))
        r["flops"] = flops
        r["per_op"] = per_op or None
        r["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        results.append(r)

    for name in args.worker.split(","):
        torch.manual_seed(42)
        if name in MLPS:
            sizes, batch, optname, lr, lossname = MLPS[name]
            layers = []
            for i in range(len(sizes) - 1):
                layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
                if i + 2 < len(sizes):
                    layers.append(torch.nn.ReLU())
            net = torch.nn.Sequential(*layers)
            opt = (torch.optim.SGD(net.parameters(), lr=lr) if optname == "sgd"
                   else torch.optim.Adam(net.parameters(), lr=lr))
            x = torch.randn(batch, sizes[0])
            if lossname == "mse":
                y, lossfn = torch.randn(batch, sizes[-1]), F.mse_loss
            else:
                y, lossfn = torch.randint(0, sizes[-1], (batch,)), F.cross_entropy
            mkn = [batch * sizes[i] * sizes[i + 1] for i in range(len(sizes) - 1)]

            def fwd():
                t0 = now()
                loss = lossfn(net(x), y)
                return now() - t0

            def bwd():
                loss = lossfn(net(x), y)
                t0 = now()
                loss.backward()
                t = now() - t0
                opt.zero_grad()
                return t

            def step():
                t0 = now()
                loss = lossfn(net(x), y)
                loss.backward()
                opt.step()
                opt.zero_grad()
                return now() - t0

            emit(name, "forward", fwd, 2.0 * sum(mkn))
            emit(name, "backward", bwd, 4.0 * sum(mkn))
            emit(name, "step", step, 6.0 * sum(mkn))
        elif name == "chain100":
            x = torch.full((1,), 0.5, requires_grad=True)
            fns = [lambda y: y * 0.99, lambda y: y + 0.01, torch.tanh, torch.sigmoid]

            def chain():
                y = x
                for i in range(CHAIN_LEN):
                    y = fns[i % 4](y)
                return y

            def cfwd():
                t0 = now()
                chain()
                return now() - t0

            def cbwd():
                y = chain()
                t0 = now()
                y.backward()
                t = now() - t0
                x.grad.zero_()
                return t

            def cstep():
                t0 = now()
                chain().backward()
                x.grad.zero_()
                return now() - t0

            emit(name, "forward", cfwd, per_op=CHAIN_LEN)
            emit(name, "backward", cbwd, per_op=CHAIN_LEN)
            emit(name, "step", cstep)
        elif name in OPS:
            kind, d = OPS[name]
            grad_in, flops = [], 0.0
            if kind == "matmul":
                a, b = torch.randn(d[0], d[1]), torch.randn(d[1], d[2])
                grad_in, flops = [a, b], 2.0 * d[0] * d[1] * d[2]
                op = lambda: torch.matmul(a, b)
            elif kind == "add":
                a, b = torch.randn(d[0], d[1]), torch.randn(d[1])
                grad_in, op = [a, b], lambda: a + b
            elif kind in ("relu", "softmax"):
                a = torch.randn(d[0], d[1])
                grad_in = [a]
                op = (lambda: torch.relu(a)) if kind == "relu" else (lambda: torch.softmax(a, 1))
            elif kind == "ce":
                a, lab = torch.randn(d[0], d[1]), torch.randint(0, d[1], (d[0],))
                grad_in, op = [a], lambda: F.cross_entropy(a, lab)
            elif kind == "attention":
                grad_in = [torch.randn(*d) for _ in range(3)]
                op, flops = attention_op(*grad_in), 4.0 * d[0] * d[1] * d[2] * d[2] * d[3]
            elif kind == "layer_norm":
                grad_in = [torch.randn(*d), torch.randn(d[1]), torch.randn(d[1])]
                op = (lambda x, w, b: lambda: F.layer_norm(x, (d[1],), w, b, 1e-5))(*grad_in)
            else:  # conv2d N,C,H,W,O,K, padding K//2
                n, c, h, w, o, k = d
                a = torch.randn(n, c, h, w)
                wt, bias = 0.1 * torch.randn(o, c, k, k), 0.1 * torch.randn(o)
                grad_in = [a, wt, bias]
                op = lambda: F.conv2d(a, wt, bias, padding=k // 2)
                flops = 2.0 * n * o * h * w * c * k * k
            for t in grad_in:
                t.requires_grad_(True)
            seed = torch.ones_like(op())

            def ofwd():
                t0 = now()
                op()
                return now() - t0

            def obwd():
                y = op()
                t0 = now()
                y.backward(seed)
                t = now() - t0
                for t_ in grad_in:
                    t_.grad.zero_()
                return t

            emit(name, "forward", ofwd, flops)
            emit(name, "backward", obwd, 2.0 * flops)
        elif name in GPTS:
            gpt_figures(name, GPTS[name], now, emit)
        elif name in CNNS:
            cnn_figures(name, CNNS[name], now, emit)
        else:
            sys.exit(f"compare_torch worker: unknown configuration {name!r}")
    json.dump({"tool": "torch", "torch_version": torch.__version__,
               "threads": torch.get_num_threads(), "results": results}, sys.stdout)
    return 0


def attention_op(q, k, v):
    """torch 1.13's composed causal attention: matmul, masked softmax, matmul."""
    import torch
    t = q.shape[-2]
    mask = torch.ones(t, t, dtype=torch.bool).triu(1)
    scale = 1.0 / q.shape[-1] ** 0.5

    def op():
        s = (q @ k.transpose(-2, -1)) * scale
        return torch.softmax(s.masked_fill(mask, float("-inf")), -1) @ v
    return op


def gpt_figures(name, cfg, now, emit):
    """gpt-mini: forward (+ loss), backward, step (AdamW) of gen_gpt.py's GPT class."""
    import importlib.util
    import torch
    import torch.nn.functional as F
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        "gen_gpt", os.path.join(here, "..", "tests", "fixtures", "gen_gpt.py"))
    gen_gpt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_gpt)
    model = gen_gpt.GPT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    b, t, v = cfg["batch"], cfg["block_size"], cfg["vocab_size"]
    idx, tgt = torch.randint(0, v, (b, t)), torch.randint(0, v, (b * t,))
    c, n = cfg["n_embd"], b * t
    flops = 2.0 * (cfg["n_layer"] * (n * 12.0 * c * c + b * cfg["n_head"] * 2.0 * t * t *
                                     (c // cfg["n_head"])) + n * c * v)

    def loss():
        return F.cross_entropy(model(idx).view(-1, v), tgt)

    def fwd():
        t0 = now()
        loss()
        return now() - t0

    def bwd():
        lo = loss()
        t0 = now()
        lo.backward()
        t_ = now() - t0
        opt.zero_grad()
        return t_

    def step():
        t0 = now()
        loss().backward()
        opt.step()
        opt.zero_grad()
        return now() - t0

    emit(name, "forward", fwd, flops)
    emit(name, "backward", bwd, 2 * flops)
    emit(name, "step", step, 3 * flops)


def cnn_figures(name, cfg, now, emit):
    """fashion-cnn: forward (+ loss), backward, step (Adam) of examples/fashion.c's CNN."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(16 * 7 * 7, 10))
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    b = cfg["batch"]
    x, y = torch.randn(b, 1, 28, 28), torch.randint(0, 10, (b,))
    flops = 2.0 * (b * 8 * 28 * 28 * 9 + b * 16 * 14 * 14 * 8 * 9 + b * 16 * 7 * 7 * 10)

    def fwd():
        t0 = now()
        F.cross_entropy(net(x), y)
        return now() - t0

    def bwd():
        lo = F.cross_entropy(net(x), y)
        t0 = now()
        lo.backward()
        t_ = now() - t0
        opt.zero_grad()
        return t_

    def step():
        t0 = now()
        F.cross_entropy(net(x), y).backward()
        opt.step()
        opt.zero_grad()
        return now() - t0

    emit(name, "forward", fwd, flops)
    emit(name, "backward", bwd, 2 * flops)
    emit(name, "step", step, 3 * flops)


# ---- the driver ----

def run_json(cmd, env, what):
    """Runs cmd; its JSON document, with "blis": the sub-configuration BLIS_ARCH_DEBUG named."""
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.stderr.write(f"compare_torch: {what} failed (exit {p.returncode}):\n{p.stderr}\n")
    blis = None
    for line in p.stderr.splitlines():   # BLIS_ARCH_DEBUG's line
        if line.startswith("libblis: selecting sub-configuration"):
            blis = line.split("'")[1] if line.count("'") >= 2 else line.strip()
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(f"compare_torch: {what} printed no JSON\n{p.stderr}\n")
        return None
    if blis:
        doc["blis"] = blis
    return doc


def find_tg_bench(path):
    if path:
        return path
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(here, "..", "build", "bench", "tg-bench"),
                 os.path.join(os.getcwd(), "bench", "tg-bench"), shutil.which("tg-bench")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    sys.exit("compare_torch: tg-bench not found; pass --tg-bench PATH")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def tg_blis_arch_id(tg, env):
    """The BLIS kernel set tapegrad picks here (tg-bench's machine.blis_arch_id), or None."""
    doc = run_json([tg, "--json", "--config", "chain100", "--figure", "none", "--quick",
                    "--no-peak"], env, "tg-bench (machine record)")
    arch = ((doc or {}).get("machine") or {}).get("blis_arch_id")
    if arch in (None, ""):
        sys.stderr.write("compare_torch: tg-bench recorded no blis_arch_id; PyTorch runs only "
                         "as installed\n")
        return None
    return str(arch)


def torch_envs(args, env, tg):
    """{side: environment} of the PyTorch runs --torch-blis asks for."""
    base = dict(env, BLIS_ARCH_DEBUG="1")
    base.pop("BLIS_ARCH_TYPE", None)   # as installed: BLIS picks its own kernels
    envs = {}
    if args.torch_blis in ("installed", "both"):
        envs["torch"] = base
    arch = tg_blis_arch_id(tg, env) if args.torch_blis in ("same", "both") else None
    if arch is not None:
        envs["torch_same"] = dict(base, BLIS_ARCH_TYPE=arch)
    return envs


def clock_cost(meta):
    """' (one read N ns)' from tg-bench's measurement of its clock, which every sample holds
    once: the process CPU-time clock is a system call (~1.3 us on a KVM guest), too coarse
    for microsecond figures such as tiny-sgd's step."""
    c = (meta.get("tg_meta") or {}).get("clock_read_s")
    return f" (one read {c * 1e9:.0f} ns)" if c is not None else ""


def collect(args):
    """Runs the rounds; returns {(config, figure): {side: {round: result dict}}} for the sides
    tg, torch (as installed) and torch_same (BLIS_ARCH_TYPE = tapegrad's set), and the meta."""
    env = dict(os.environ)
    for v in THREAD_VARS:
        env[v] = str(args.threads)
    tg = find_tg_bench(args.tg_bench)
    common = ["--threads", str(args.threads), "--min-time", str(args.min_time),
              "--dtype", args.dtype, "--clock", args.clock] + (["--quick"] if args.quick else [])
    envs = torch_envs(args, env, tg)
    envs["tg"] = env
    meta = {s + "_meta": None for s in envs}
    meta["torch_blis_arch_type"] = envs.get("torch_same", {}).get("BLIS_ARCH_TYPE")
    data, groups = {}, expand(args.configs)
    worker = [args.python, os.path.abspath(__file__), "--worker"]
    for rnd in range(args.rounds):
        for gi, group in enumerate(groups):
            names = ",".join(group)
            sides = [("tg", [tg, "--json", "--config", names] + common)]
            sides += [(s, worker + [names] + common) for s in TORCH_SIDES if s in envs]
            k = (rnd + gi) % len(sides)  # rotate which side goes first
            for side, cmd in sides[k:] + sides[:k]:
                sys.stderr.write(f"round {rnd + 1}/{args.rounds}: {side:10s} {names[:60]}\n")
                doc = run_json(cmd, envs[side], f"{side} {names}")
                if not doc:
                    continue
                meta[side + "_meta"] = {k: v for k, v in doc.items() if k != "results"}
                for r in doc["results"]:
                    key = (r["config"], r["figure"])
                    data.setdefault(key, {s: {} for s in envs})[side][rnd] = r
    for e in data.values():
        e["torch_best"] = best_torch(e)
    return data, meta


def best_torch(entry):
    """Per round, the faster PyTorch: each time field the smaller over the PyTorch sides."""
    best = {}
    for side in TORCH_SIDES:
        for rnd, r in entry.get(side, {}).items():
            b = best.setdefault(rnd, dict(r))
            for f in TIME_FIELDS:
                if r.get(f) is not None and (b.get(f) is None or r[f] < b[f]):
                    b[f] = r[f]
    return best


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(entry, side, field, how):
    vals = [r.get(field) for r in entry[side].values()]
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return min(vals) if how == "min" else statistics.median(vals)


def ratio(entry, field, side):
    """Median over rounds of PyTorch (side)/tapegrad for `field`, both from the same round."""
    rs = [entry[side][k][field] / entry["tg"][k][field]
          for k in entry["tg"] if k in entry.get(side, {}) and entry["tg"][k][field] > 0]
    return med(rs)


def fmt_t(s):
    if s is None:
        return "-"
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.3f} s"


def fmt_x(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}×"


def fmt_xx(pair):
    """(min, median) speed-ups as "1.23×; 1.30×"."""
    return "-" if pair[0] is None else f"{fmt_x(pair[0])}; {fmt_x(pair[1])}"


def side_stats(e, side):
    s = {f: summarize(e, side, f + "_s", "min" if f == "min" else "median")
         for f in ("median", "min", "p10")}
    s["rss"] = summarize(e, side, "peak_rss_kb", "median")
    s["peak_fraction"] = summarize(e, side, "peak_fraction", "median")
    flops = next((r.get("flops") for r in e.get(side, {}).values() if r.get("flops")), None)
    s["gflops"] = flops / s["median"] * 1e-9 if flops and s["median"] else None
    return s


def rows_for(data, configs_order, torch_sides):
    main, detail = [], []
    for key in configs_order:
        config, figure = key
        e = data[key]
        row = {"config": config, "figure": figure}
        for side in ["tg", "torch_best"] + torch_sides:
            row[side] = side_stats(e, side)
            row[side]["ratio"] = (ratio(e, "min_s", side), ratio(e, "median_s", side))
        row["ratio_min"], row["ratio_med"] = row["torch_best"]["ratio"]
        per_op = next((r.get("per_op") for r in e["tg"].values() if r.get("per_op")), None)
        row["per_op"] = per_op
        g = data.get((config, "gemm"))
        row["gemm"] = None
        if g and figure == "step":
            row["gemm"] = {"min": summarize(g, "tg", "min_s", "min"),
                           "median": summarize(g, "tg", "median_s", "median")}
            rs_min = [e["tg"][k]["min_s"] / g["tg"][k]["min_s"] for k in e["tg"] if k in g["tg"]]
            rs_med = [e["tg"][k]["median_s"] / g["tg"][k]["median_s"]
                      for k in e["tg"] if k in g["tg"]]
            row["gemm"]["ratio_min"], row["gemm"]["ratio_med"] = med(rs_min), med(rs_med)
        if figure == "step" or config in OPS:
            main.append(row)
        elif figure in ("forward", "backward"):
            detail.append(row)
    return main, detail


def verdict(row):
    """The issue's targets, against the faster PyTorch of the round."""
    t = TARGETS.get(row["config"])
    if not t or row["figure"] != "step" or row["ratio_min"] is None:
        return "-"
    speed, gemm_bound = t
    ok_min, ok_med = row["ratio_min"] >= speed, (row["ratio_med"] or 0) >= speed
    parts = [f"≥{speed:g}×: " + ("met" if ok_min and ok_med else
                                 "min only" if ok_min else "median only" if ok_med else "NOT met")]
    if gemm_bound and row["gemm"] and row["gemm"]["ratio_min"] is not None:
        parts.append(f"step/gemm ≤{gemm_bound:.2f}: " +
                     ("met" if row["gemm"]["ratio_min"] <= gemm_bound else "NOT met"))
    return "; ".join(parts)


def gflops_cell(r):
    """tapegrad GFLOP/s (its % of the FMA peak) / the faster PyTorch's GFLOP/s."""
    tg = r["tg"]
    if not tg["gflops"]:
        return "-"
    pf = f" ({100 * tg['peak_fraction']:.0f} %)" if tg["peak_fraction"] is not None else ""
    return f"{tg['gflops']:.1f}{pf} / {r['torch_best']['gflops'] or 0:.1f}"


def print_tables(main, detail, torch_sides, markdown, out=sys.stdout):
    labels = [TORCH_SIDES[s] for s in torch_sides]
    both = len(torch_sides) > 1
    head = ["config", "figure", "tapegrad median", "min", "p10"]
    for lab in labels:
        head += [f"torch {lab} median", "min"]
    head += [f"speed-up vs torch {lab} (min; med)" for lab in labels]
    head += ["vs faster torch (min; med)"] if both else []
    head += ["gemm-only (min)", "step/gemm (min; med)", "GFLOP/s tg (% FMA peak) / torch",
             "RSS MiB tg / torch", "target" + (" (vs faster torch)" if both else "")]
    body = []
    for r in main:
        g = r["gemm"]
        rss = ("-" if r["config"] in OPS or not r["tg"]["rss"] else
               f"{r['tg']['rss'] / 1024:.0f} / {(r['torch_best']['rss'] or 0) / 1024:.0f}")
        b = [r["config"], r["figure"], fmt_t(r["tg"]["median"]), fmt_t(r["tg"]["min"]),
             fmt_t(r["tg"]["p10"])]
        for s in torch_sides:
            b += [fmt_t(r[s]["median"]), fmt_t(r[s]["min"])]
        b += [fmt_xx(r[s]["ratio"]) for s in torch_sides]
        b += [fmt_xx(r["torch_best"]["ratio"])] if both else []
        b += [fmt_t(g["min"]) if g else "-",
              f"{fmt_x(g['ratio_min'])}; {fmt_x(g['ratio_med'])}" if g else "-",
              gflops_cell(r), rss, verdict(r)]
        body.append(b)
    emit_table(head, body, markdown, out)
    if detail:
        out.write("\nForward and backward alone (chain100: per op, from the median):\n\n")
        head2 = ["config", "figure", "tapegrad median", "min"]
        for lab in labels:
            head2 += [f"torch {lab} median", "min"]
        head2 += [f"speed-up vs torch {lab} (min; med)" for lab in labels]
        head2 += ["per op tg / " + ("faster torch" if both else "torch")]
        body2 = []
        for r in detail:
            po, tb = r["per_op"], r["torch_best"]
            b = [r["config"], r["figure"], fmt_t(r["tg"]["median"]), fmt_t(r["tg"]["min"])]
            for s in torch_sides:
                b += [fmt_t(r[s]["median"]), fmt_t(r[s]["min"])]
            b += [fmt_xx(r[s]["ratio"]) for s in torch_sides]
            b.append(f"{fmt_t(r['tg']['median'] / po)} / {fmt_t(tb['median'] / po)}"
                     if po and r["tg"]["median"] and tb["median"] else "-")
            body2.append(b)
        emit_table(head2, body2, markdown, out)


def emit_table(head, body, markdown, out):
    if markdown:
        out.write("| " + " | ".join(head) + " |\n")
        out.write("|" + "|".join("---" for _ in head) + "|\n")
        for b in body:
            out.write("| " + " | ".join(b) + " |\n")
        return
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(head)]
    out.write("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip() + "\n")
    for b in body:
        out.write("  ".join(c.ljust(w) for c, w in zip(b, widths)).rstrip() + "\n")


def kernels_line(meta, torch_sides):
    """Which BLIS kernels each side ran (tg-bench's record; BLIS_ARCH_DEBUG for PyTorch)."""
    mach = (meta.get("tg_meta") or {}).get("machine") or {}
    parts = [f"kernels: tapegrad {mach.get('kernels', '?')}, BLIS {mach.get('blis_kernels', '?')}"
             f" (blis_arch_id {mach.get('blis_arch_id', '?')})"]
    for s in torch_sides:
        blis = (meta.get(s + "_meta") or {}).get("blis", "?")
        how = (f"BLIS_ARCH_TYPE={meta.get('torch_blis_arch_type')}" if s == "torch_same"
               else "BLIS's own pick")
        parts.append(f"torch {TORCH_SIDES[s]}: BLIS {blis} ({how})")
    return "; ".join(parts)


def peak_line(meta, threads):
    """tg-bench's FMA peak probe, as GFLOP/s per dtype and thread count."""
    pk = ((meta.get("tg_meta") or {}).get("machine") or {}).get("fma_peak_gflops")
    if not pk:
        return "FMA peak: not measured (tg-bench --no-peak, or an older tg-bench)"
    cells = []
    for dt in ("f32", "f64"):
        per = pk.get(dt) or {}
        cells.append(f"{dt} " + ", ".join(f"{v:.0f} on {n} thread{'s' if n != '1' else ''}"
                                           for n, v in per.items() if v))
    return (f"FMA peak (tg-bench probe, {pk.get('isa', '?')}, GFLOP/s): " + "; ".join(cells)
            + f"; % FMA peak uses the {threads}-thread figure")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--configs", default="all",
                    help="comma list: all, mlp, ops, a configuration, an op family or case")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tg-bench", default=None, help="path to tg-bench (default: ../build)")
    ap.add_argument("--python", default="/usr/bin/python3", help="python with torch")
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--dtype", choices=["f32", "f64"], default="f32")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="cpu: process CPU time on both sides (a busy shared machine; 1 thread; "
                         "a system call per read: for millisecond figures, not tiny-sgd)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round, 1-2 reps")
    ap.add_argument("--markdown", action="store_true", help="tables in markdown")
    ap.add_argument("--json-out", default=None, help="also write the raw results here")
    ap.add_argument("--torch-blis", choices=["installed", "same", "both"], default="both",
                    help="PyTorch's BLIS kernels: as installed (BLIS's own pick), the same set "
                         "as tapegrad (BLIS_ARCH_TYPE), or both runs (default)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return torch_worker(args)
    if args.quick:
        args.rounds = 1
    load0, t0 = os.getloadavg(), time.time()
    data, meta = collect(args)
    load1 = os.getloadavg()
    order = list(data.keys())
    torch_sides = [s for s in TORCH_SIDES if s + "_meta" in meta]
    main_rows, detail = rows_for(data, order, torch_sides)
    out = sys.stdout
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    tmeta = next((meta[s + "_meta"] for s in torch_sides if meta[s + "_meta"]), None) or {}
    out.write(f"{'**' if args.markdown else ''}tapegrad vs PyTorch{'**' if args.markdown else ''}"
              f": {date}; {cpu_model()} ({os.cpu_count()} CPUs); {args.threads} thread"
              f"{'s' if args.threads != 1 else ''}; {args.dtype}; {args.rounds} round"
              f"{'s' if args.rounds != 1 else ''}, min-time {args.min_time} s per figure; "
              f"{args.clock} clock{clock_cost(meta)}; "
              f"PyTorch {tmeta.get('torch_version', '?')}; load average "
              f"{load0[0]:.1f} before, {load1[0]:.1f} after ({time.time() - t0:.0f} s)\n")
    out.write(f"command: {' '.join([os.path.basename(sys.argv[0])] + sys.argv[1:])}\n")
    out.write(kernels_line(meta, torch_sides) + "\n")
    out.write(peak_line(meta, args.threads) + "\n")
    out.write("speed-up = PyTorch time / tapegrad time, per round (same run), median over "
              "rounds; min = min over rounds, median and p10 = median over rounds"
              + ("; faster torch = per round and figure the smaller time of the two PyTorch runs"
                 if len(torch_sides) > 1 else "") + ".\n\n")
    print_tables(main_rows, detail, torch_sides, args.markdown, out)
    if args.quick:
        out.write("\n(quick: a smoke run, not a measurement)\n")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"args": vars(args), "meta": meta, "load": [load0, load1],
                       "results": [{"config": c, "figure": fg, **v}
                                   for (c, fg), v in data.items()]}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
