"""trainkit on the GPU (cupy) against PyTorch on CUDA, each library in its own fresh process.

Cases (float32):

- ``copy``: device-to-device copy of a 1 GiB buffer (cupy ``cudaMemcpyAsync`` through
  ``dst.data.copy_from_device_async``; torch ``dst.copy_(src)``). Bandwidth counts the bytes
  read and written (2 x 1 GiB). The trainkit column is plain cupy: it is the device's
  measured copy bandwidth that the Adam rows are compared with.
- ``adam 1x10M`` / ``adam 1000x10k``: one ``Adam.step()`` over 10M parameters as 1 tensor
  and as 1,000 tensors; trainkit's Adam (its fused cupy kernel over the flat buffers)
  against ``torch.optim.Adam(fused=True)``. An Adam step moves 28 bytes per parameter
  (reads p, g, m, v; writes p, m, v): GB/s = 28 * 10M / time, also shown as a fraction of
  the measured copy bandwidth.
- ``mlp``: MLP 784-256-256-10 (ReLU), batch 128, a full training step
  (``zero_grad``, forward, CrossEntropyLoss, backward, ``Adam.step``; torch ``fused=True``).
- ``cnn``: the classic CIFAR-10 CNN of ``core_models.py`` (three Conv2d 5x5 + MaxPool2d +
  ReLU, Linear 1024-64-10), batch 64, a training step with SGD (lr 0.01, momentum 0.9).
- ``transformer``: ``solo_cases.py``'s transformer block (Embedding 5000x256, LayerNorm,
  Linear 256-1024, GELU, Linear 1024-256, residual, Linear 256-5000, cross-entropy over 5,000
  classes), batch 32 x 64 tokens, AdamW: exercises the fused GELU and cross-entropy cupy kernels.
- ``train``: ``trainkit train device=cuda`` (the README's main job on the GPU) end to end, the
  whole process's wall time, against ``trainkit train device=cpu``.

Method: ``--rounds`` rounds; in each round every library runs once in a fresh process
(``--child``) that runs every case in turn (warm-up, then ``--repeat`` timed repeats of
``n`` calls each, the device synchronised before and after each repeat:
``cupy.cuda.Device().synchronize()`` / ``torch.cuda.synchronize()``) and reports each
case's best repeat. The order of the libraries alternates between rounds. A table cell is
the median over rounds of those per-process bests. Ratio = torch time / trainkit time
(above 1: trainkit is faster), as in the README's benchmark table.

Writes ``gpu_bench.md`` (the table) and ``gpu_bench.json`` (every sample) to ``--out-dir``
after every round, so a run stopped by a time limit keeps what it measured.

    python benchmarks/gpu_bench.py --device cuda --out-dir "$OUT"            # on a GPU machine
    python benchmarks/gpu_bench.py --device cpu --tiny --rounds 1            # a smoke run on CPU
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from harness import fmt_time  # benchmarks/ is on sys.path when a script there runs

HERE = os.path.dirname(os.path.abspath(__file__))
LIBS = ("trainkit", "torch")
CASES = ("copy", "adam-1x10M", "adam-1000x10k", "mlp", "cnn", "transformer", "train")
ADAM_BYTES_PER_PARAM = 28  # reads p, g, m, v and writes p, m, v: 7 float32


def sizes(tiny: bool) -> dict:
    if tiny:
        return dict(copy_bytes=8 << 20, n_params=200_000, many=1000, mlp_batch=128, cnn_batch=8,
                    min_time=0.01, mlp_warmup=120, cnn_warmup=2)
    return dict(copy_bytes=1 << 30, n_params=10_000_000, many=1000, mlp_batch=128, cnn_batch=64,
                min_time=0.05, mlp_warmup=150, cnn_warmup=10)


# --------------------------------------------------------------------------- the child process


def mlp(nn):  # as in core_models.py
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def cifar_cnn(nn):  # as in core_models.py
    return nn.Sequential(
        nn.Conv2d(3, 32, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(32, 32, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(32, 64, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Linear(1024, 64), nn.ReLU(), nn.Linear(64, 10),
    )


class Lib:
    """What a case needs from one library on one device: arrays, models, optimizers, sync."""

    def __init__(self, name: str, device: str):
        import numpy as np

        self.name, self.device, self.np = name, device, np
        self.cuda = device.startswith("cuda")
        if name == "torch":
            import torch

            self.torch = torch
            self.nn, self.optim = torch.nn, torch.optim
            if self.cuda:
                torch.cuda.set_device(int(device.partition(":")[2] or 0))
            self.sync = torch.cuda.synchronize if self.cuda else (lambda: None)
            self.no_grad = torch.no_grad
        else:
            import trainkit
            from trainkit import nn, optim

            self.trainkit, self.nn, self.optim = trainkit, nn, optim
            if self.cuda:
                import cupy

                self.cupy = cupy
                cupy.cuda.Device(int(device.partition(":")[2] or 0)).use()
                self.sync = lambda: cupy.cuda.Device().synchronize()
            else:
                self.sync = lambda: None
            self.no_grad = None

    # arrays ---------------------------------------------------------------
    def raw(self, array):
        """A raw device array (cupy/numpy, or a torch tensor) from a numpy array."""
        if self.name == "torch":
            return self.torch.from_numpy(array).to(self.device)
        return self.cupy.asarray(array) if self.cuda else array

    def tensor(self, array):
        if self.name == "torch":
            return self.torch.from_numpy(array).to(self.device)
        return self.trainkit.from_numpy(array).to(self.device)

    def free(self):
        """Give cached device memory back between cases."""
        import gc

        gc.collect()
        if self.cuda and self.name == "torch":
            self.torch.cuda.empty_cache()
        elif self.cuda:
            self.cupy.get_default_memory_pool().free_all_blocks()

    def meta(self) -> dict:
        out = {"library": self.name, "device": self.device}
        if self.name == "torch":
            t = self.torch
            out.update(torch=t.__version__, torch_cuda=t.version.cuda)
            if self.cuda:
                out["gpu"] = t.cuda.get_device_name(0)
        else:
            out["trainkit"] = getattr(self.trainkit, "__version__", None)
            if self.cuda:
                cp = self.cupy
                props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
                name = props["name"]
                out.update(cupy=cp.__version__, cuda_runtime=cp.cuda.runtime.runtimeGetVersion(),
                           cuda_driver=cp.cuda.runtime.driverGetVersion(),
                           gpu=name.decode() if isinstance(name, bytes) else name)
        return out


def time_calls(fn, sync, repeat: int, warmup: int, min_time: float, max_number: int = 1 << 14) -> dict:
    """Best and median seconds per call over ``repeat`` synchronised repeats of ``n`` calls."""
    for _ in range(warmup):
        fn()
    sync()
    n = 1
    while True:  # calls per repeat so that a repeat takes about min_time
        sync()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or n >= max_number:
            break
        n = min(max_number, n * max(2, min(100, int(min_time / max(elapsed, 1e-7)))))
    samples = []
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        samples.append((time.perf_counter() - start) / n)
    return {"best_s": min(samples), "median_s": statistics.median(samples), "number": n, "repeat": repeat}


def case_copy(lib: Lib, size: dict, repeat: int) -> dict:
    np = lib.np
    count = size["copy_bytes"] // 4
    if lib.name == "torch":
        src = lib.torch.ones(count, dtype=lib.torch.float32, device=lib.device)
        dst = lib.torch.empty_like(src)
        fn = lambda: dst.copy_(src)  # noqa: E731
    elif lib.cuda:
        cp = lib.cupy
        src = cp.ones(count, dtype=cp.float32)
        dst = cp.empty_like(src)
        fn = lambda: dst.data.copy_from_device_async(src.data, src.nbytes)  # noqa: E731 - cudaMemcpyAsync D2D
    else:
        src = np.ones(count, dtype=np.float32)
        dst = np.empty_like(src)
        fn = lambda: np.copyto(dst, src)  # noqa: E731
    out = time_calls(fn, lib.sync, repeat, warmup=3, min_time=size["min_time"])
    out["bytes"] = 2 * count * 4  # read + written
    return out


def case_adam(lib: Lib, size: dict, repeat: int, tensors: int) -> dict:
    np = lib.np
    n = size["n_params"]
    rng = np.random.default_rng(0)
    shapes = [n // tensors] * tensors
    if lib.name == "torch":
        torch = lib.torch
        params = [torch.nn.Parameter(lib.raw(rng.standard_normal(s, dtype=np.float32))) for s in shapes]
        for p in params:
            p.grad = lib.raw(rng.standard_normal(p.shape, dtype=np.float32) * np.float32(1e-3))
        opt = torch.optim.Adam(params, lr=1e-3, fused=True)
        step = torch.no_grad()(opt.step)
    else:
        from trainkit.nn import Parameter

        params = [Parameter(lib.raw(rng.standard_normal(s, dtype=np.float32))) for s in shapes]
        opt = lib.optim.Adam(params, lr=1e-3)
        for p in params:
            p.grad = lib.raw(rng.standard_normal(p.shape, dtype=np.float32) * np.float32(1e-3))
        step = opt.step
    out = time_calls(step, lib.sync, repeat, warmup=20, min_time=size["min_time"])
    out["bytes"] = ADAM_BYTES_PER_PARAM * sum(shapes)
    out["params"] = sum(shapes)
    return out


def _train_step(lib: Lib, model, x, y, optimizer):
    criterion = lib.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()

    return step


def case_model(lib: Lib, size: dict, repeat: int, which: str) -> dict:
    np = lib.np
    rng = np.random.default_rng(0)
    if which == "mlp":
        batch, factory, shape, warmup = size["mlp_batch"], mlp, (size["mlp_batch"], 784), size["mlp_warmup"]
    else:
        batch, factory, shape, warmup = size["cnn_batch"], cifar_cnn, (size["cnn_batch"], 3, 32, 32), size["cnn_warmup"]
    x = lib.tensor(rng.standard_normal(shape).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, size=batch).astype(np.int64))
    if lib.name == "torch":
        lib.torch.manual_seed(0)
    else:
        lib.trainkit.manual_seed(0)
    model = factory(lib.nn).to(lib.device)
    if which == "mlp":
        kwargs = dict(fused=True) if lib.name == "torch" and lib.cuda else {}  # torch's fastest GPU Adam
        optimizer = lib.optim.Adam(model.parameters(), lr=1e-3, **kwargs)
    else:
        optimizer = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    out = time_calls(_train_step(lib, model, x, y, optimizer), lib.sync, repeat, warmup=warmup,
                     min_time=size["min_time"])
    out["batch"] = batch
    return out


def case_transformer(lib: Lib, size: dict, repeat: int) -> dict:
    """The transformer block of ``solo_cases.py`` (same layers and forward), one AdamW step."""
    import solo_cases  # benchmarks/ is on sys.path

    np = lib.np
    rng = np.random.default_rng(0)
    shape = (solo_cases.BATCH, solo_cases.SEQ)
    tokens = lib.tensor(rng.integers(0, solo_cases.VOCAB, shape).astype(np.int64))
    target = lib.tensor(rng.integers(0, solo_cases.VOCAB, shape[0] * shape[1]).astype(np.int64))
    (lib.torch if lib.name == "torch" else lib.trainkit).manual_seed(0)
    model = solo_cases._layers(lib.nn, "transformer").to(lib.device)
    optimizer = lib.optim.AdamW(model.parameters(), lr=1e-3)
    forward = lambda t: solo_cases._forward("transformer", model, t)  # noqa: E731 - the block's own forward
    out = time_calls(_train_step(lib, forward, tokens, target, optimizer), lib.sync, repeat,
                     warmup=size["cnn_warmup"], min_time=size["min_time"])
    out["batch"] = shape[0]
    return out


def child(lib_name: str, device: str, tiny: bool, repeat: int, cases: list[str]) -> None:
    """Run ``cases`` for one library in this process; print one ``RESULT {json}`` line per case."""
    size = sizes(tiny)
    start = time.perf_counter()
    lib = Lib(lib_name, device)
    print("RESULT " + json.dumps({"case": "_meta", **lib.meta(), "import_s": time.perf_counter() - start}),
          flush=True)
    runners = {
        "copy": lambda: case_copy(lib, size, repeat),
        "adam-1x10M": lambda: case_adam(lib, size, repeat, 1),
        "adam-1000x10k": lambda: case_adam(lib, size, repeat, size["many"]),
        "mlp": lambda: case_model(lib, size, repeat, "mlp"),
        "cnn": lambda: case_model(lib, size, repeat, "cnn"),
        "transformer": lambda: case_transformer(lib, size, repeat),
    }
    for case in cases:
        if case not in runners:
            continue
        try:
            row = {"case": case, **runners[case]()}
        except Exception as exc:  # one broken case must not cost the others
            row = {"case": case, "error": f"{type(exc).__name__}: {exc}"[:2000]}
        lib.free()
        print("RESULT " + json.dumps(row), flush=True)


# --------------------------------------------------------------------------- the parent


def run_child(lib: str, args, timeout: float) -> tuple[list[dict], str]:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", lib, "--device", args.device,
           "--repeat", str(args.repeat), "--cases", ",".join(c for c in args.cases if c != "train")]
    if args.tiny:
        cmd.append("--tiny")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        stdout, stderr, note = proc.stdout, proc.stderr, "" if proc.returncode == 0 else f"exit code {proc.returncode}"
    except subprocess.TimeoutExpired as exc:
        decode = lambda b: b.decode(errors="replace") if isinstance(b, bytes) else (b or "")  # noqa: E731
        stdout, stderr, note = decode(exc.stdout), decode(exc.stderr), f"timed out after {timeout:.0f} s"
    rows = [json.loads(line[7:]) for line in stdout.splitlines() if line.startswith("RESULT ")]
    return rows, (note + "\n" + stderr[-3000:]).strip() if note else ""


def trainkit_command() -> list[str]:
    exe = shutil.which("trainkit") or shutil.which("trainkit", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "trainkit"]


def run_train(device: str, timeout: float) -> dict:
    """Wall time of ``trainkit train device=<device>`` in a fresh process and a fresh directory."""
    with tempfile.TemporaryDirectory(prefix="gpu_bench_train_") as cwd:
        cmd = trainkit_command() + ["train", f"device={device}", "trainer.progress=false"]
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"case": "train", "device": device, "error": f"timed out after {timeout:.0f} s"}
        wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {"case": "train", "device": device, "error": f"exit code {proc.returncode}: {proc.stderr[-2000:]}"}
    accuracy = [ln.split()[-1] for ln in proc.stdout.splitlines() if ln.startswith("trainkit: val/accuracy")]
    return {"case": "train", "device": device, "best_s": wall, "median_s": wall, "command": " ".join(cmd[-3:]),
            "val_accuracy": accuracy[-1] if accuracy else None}


def last_line(text: str) -> str:
    """The telling line of an error: a traceback's last line, else the first."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return "?"
    return (lines[-1] if any(ln.startswith("Traceback") for ln in lines) else lines[0])[:200]


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(samples: list[dict], args) -> list[dict]:
    """One row per case: median over rounds of each library's per-process best."""
    def med(case, lib):
        return _median([s.get("best_s") for s in samples if s["case"] == case and s.get("library") == lib])

    def errors(case, lib):
        return sorted({last_line(s["error"]) for s in samples
                       if s["case"] == case and s.get("library") == lib and "error" in s})

    def gbps(t):
        return f"{t:,.0f} GB/s" if t else "-"

    copy_bw = None
    rows = []
    for case in args.cases:
        notes = []
        if case == "train":
            tk, ref = med("train", "device=" + args.device), med("train", "device=cpu")
            if args.device == "cpu":
                ref = None
            row = {"case": f"trainkit train device={args.device}, whole process", "trainkit_s": tk,
                   "reference": "trainkit train device=cpu" if ref is not None else None, "reference_s": ref}
            notes.append("wall time of the README's main job (spirals MLP, 10 epochs)")
            for dev in dict.fromkeys(["device=" + args.device, "device=cpu"]):
                notes += [f"{dev} error: {err}" for err in errors("train", dev)]
        else:
            tk, ref = med(case, "trainkit"), med(case, "torch")
            row = {"case": case, "trainkit_s": tk, "reference": "torch" if ref is not None else None,
                   "reference_s": ref}
            some = next((s for s in samples if s["case"] == case and "best_s" in s), None)
            if some is not None and case == "copy":
                row["trainkit_GBps"] = some["bytes"] / tk / 1e9 if tk else None
                row["reference_GBps"] = some["bytes"] / ref / 1e9 if ref else None
                copy_bw = row["trainkit_GBps"]
                array_lib = "numpy copyto" if args.device == "cpu" else "cupy memcpy"
                notes.append(f"{some['bytes'] / 2 ** 30:.2f} GiB moved (read + write); {array_lib} "
                             f"{gbps(row['trainkit_GBps'])}, torch copy_ {gbps(row['reference_GBps'])}")
            elif some is not None and case.startswith("adam"):
                for key, t in (("trainkit", tk), ("reference", ref)):
                    row[f"{key}_GBps"] = some["bytes"] / t / 1e9 if t else None
                    row[f"{key}_of_copy_bw"] = row[f"{key}_GBps"] / copy_bw if (t and copy_bw) else None
                pct = lambda v: f" ({v:.0%} of copy)" if v else ""  # noqa: E731
                notes.append(f"{some['params']:,} params, 28 B each; trainkit {gbps(row['trainkit_GBps'])}"
                             f"{pct(row['trainkit_of_copy_bw'])}, torch fused=True "
                             f"{gbps(row['reference_GBps'])}{pct(row['reference_of_copy_bw'])}")
            elif some is not None and case in ("mlp", "cnn"):
                row["trainkit_steps_per_s"] = 1 / tk if tk else None
                row["reference_steps_per_s"] = 1 / ref if ref else None
                fused = " (torch fused=True)" if args.device != "cpu" else ""
                what = (f"784-256-256-10, batch {some['batch']}, Adam{fused}" if case == "mlp"
                        else f"CIFAR-10 CNN, batch {some['batch']}, SGD momentum 0.9")
                steps = lambda v: f"{v:,.1f} steps/s" if v else "-"  # noqa: E731
                notes.append(f"{what}; trainkit {steps(row['trainkit_steps_per_s'])}, "
                             f"torch {steps(row['reference_steps_per_s'])}")
            for lib in ("trainkit", "torch"):
                notes += [f"{lib} error: {err}" for err in errors(case, lib)]
        row["notes"] = "; ".join(notes)
        row["ratio"] = (row["reference_s"] / row["trainkit_s"]) if row["reference_s"] and row["trainkit_s"] else None
        rows.append(row)
    return rows


def write_outputs(samples, meta, args) -> list[dict]:
    rows = summarise(samples, args)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "gpu_bench.json"), "w", encoding="utf-8") as fh:
        json.dump({"meta": meta, "summary": rows, "samples": samples}, fh, indent=1)
    tk_meta = next((s for s in samples if s["case"] == "_meta" and s.get("library") == "trainkit"), {})
    torch_meta = next((s for s in samples if s["case"] == "_meta" and s.get("library") == "torch"), {})
    lines = [
        f"# trainkit ({'cupy' if args.device.startswith('cuda') else 'numpy'}) vs PyTorch, device={args.device}",
        "",
        f"{meta['time']}, {meta['machine']}, GPU: {tk_meta.get('gpu') or torch_meta.get('gpu') or '-'}; "
        f"cupy {tk_meta.get('cupy', '-')} (CUDA runtime {tk_meta.get('cuda_runtime', '-')}, driver "
        f"{tk_meta.get('cuda_driver', '-')}); torch {torch_meta.get('torch', '-')} (CUDA {torch_meta.get('torch_cuda', '-')}); "
        f"trainkit commit {meta.get('commit') or '-'}; python {meta['python']}.",
        f"Each library in its own fresh process per round; {meta['rounds_done']} of {args.rounds} rounds done, "
        f"{args.repeat} timed repeats per case and process; a cell is the median over rounds of the per-process "
        "best. Ratio = reference time / trainkit time (above 1: trainkit faster)." + (" TINY sizes." if args.tiny else ""),
        "",
        "| Case | trainkit | reference | reference time | ratio | notes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] else "-"
        lines.append(f"| {r['case']} | {fmt_time(r['trainkit_s'])} | {r['reference'] or '-'} | "
                     f"{fmt_time(r['reference_s'])} | {ratio} | {r['notes']} |")
    problems = sorted({f"{s.get('library')}: {last_line(s['error'])}" for s in samples if s["case"] == "_child"})
    if problems:
        lines += ["", "Processes that failed or were stopped (their remaining cases are missing):", ""]
        lines += [f"- {p}" for p in problems]
    with open(os.path.join(args.out_dir, "gpu_bench.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return rows


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def parent(args) -> int:
    deadline = time.perf_counter() + args.budget_s
    torch_ok = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0
    libs = [lib for lib in LIBS if lib != "torch" or torch_ok]
    if not torch_ok:
        print("gpu_bench: torch is not importable: trainkit only", flush=True)
    meta = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": platform.node(), "python": platform.python_version(),
            "commit": git_commit(), "device": args.device, "tiny": args.tiny, "rounds": args.rounds,
            "repeat": args.repeat, "cases": args.cases, "rounds_done": 0}
    samples: list[dict] = []
    for rnd in range(args.rounds):
        order = libs if rnd % 2 == 0 else libs[::-1]
        model_cases = [c for c in args.cases if c != "train"]
        for lib in order if model_cases else []:
            left = deadline - time.perf_counter()
            if left < 10:
                break
            rows, problem = run_child(lib, args, timeout=min(args.child_timeout_s, left))
            for row in rows:
                samples.append({"round": rnd, "library": lib, **row})
                if "error" in row:
                    print(f"gpu_bench: round {rnd} {lib} {row['case']}: {last_line(row['error'])}", flush=True)
            if problem:
                print(f"gpu_bench: round {rnd} {lib}: {problem}", flush=True)
                samples.append({"round": rnd, "library": lib, "case": "_child", "error": problem})
            print(f"gpu_bench: round {rnd} {lib}: " + ", ".join(
                f"{r['case']} {fmt_time(r.get('best_s'))}" for r in rows if r["case"] != "_meta"), flush=True)
        if "train" in args.cases:
            devices = [args.device] + (["cpu"] if args.device != "cpu" else [])
            for dev in devices if rnd % 2 == 0 else devices[::-1]:
                left = deadline - time.perf_counter()
                if left < 10:
                    break
                row = run_train(dev, timeout=min(args.child_timeout_s, left))
                samples.append({"round": rnd, "library": f"device={dev}", **row})
                print(f"gpu_bench: round {rnd} trainkit train device={dev}: "
                      f"{fmt_time(row.get('best_s'))} {last_line(row['error']) if 'error' in row else ''}", flush=True)
        meta["rounds_done"] = rnd + 1
        write_outputs(samples, meta, args)
        if time.perf_counter() > deadline - 10:
            print(f"gpu_bench: time budget of {args.budget_s:.0f} s spent after round {rnd}", flush=True)
            break
    rows = write_outputs(samples, meta, args)
    with open(os.path.join(args.out_dir, "gpu_bench.md"), encoding="utf-8") as fh:
        print(fh.read())
    return 0 if any(r["trainkit_s"] for r in rows) else 1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="trainkit on cupy vs PyTorch on CUDA (copy bandwidth, fused Adam, MLP, CIFAR CNN, "
                    "`trainkit train`), each library in its own fresh process, interleaved rounds.")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu (a smoke run)")
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per library (default 3)")
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats per case and process (default 5)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    parser.add_argument("--tiny", action="store_true", help="small sizes (200k params, CNN batch 8, 8 MiB copy)")
    parser.add_argument("--out-dir", default=os.path.join(HERE, "results"),
                        help="where gpu_bench.md and gpu_bench.json go (default benchmarks/results)")
    parser.add_argument("--budget-s", type=float, default=240.0,
                        help="start no new process after this many seconds (default 240)")
    parser.add_argument("--child-timeout-s", type=float, default=150.0, help="limit per process (default 150)")
    parser.add_argument("--child", choices=LIBS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    if args.rounds < 1 or args.repeat < 1:
        parser.error("--rounds and --repeat must be at least 1")
    if not (args.device == "cpu" or args.device == "cuda" or
            (args.device.startswith("cuda:") and args.device[5:].isdigit())):
        parser.error(f"--device must be cpu, cuda or cuda:N, not {args.device!r}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args.child, args.device, args.tiny, args.repeat, args.cases)
        return 0
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
