"""``trainkit lr-find [options] [overrides]``: the learning-rate range test of a run, without training it.

The overrides are ``trainkit train``'s (checked the same way); the run is
built without a run directory, so nothing is written but the ``--plot`` file.
With ``resume=`` or ``init_from=`` the test starts from those weights.
"""
from __future__ import annotations

from .common import EXIT_TRAINING_ERROR, error, load_plugins

__all__ = ["cmd_lr_find"]

USAGE = """\
usage: trainkit lr-find [--min-lr X] [--max-lr Y] [--num-steps N] [--method steep|valley|minimum]
                        [--plot out.png] [overrides]

The learning-rate range test (Smith 2015; fastai's and Lightning's lr_find) on the run the
overrides describe (the same as `trainkit train`'s): the lr grows exponentially from --min-lr
(1e-7) to --max-lr (10) over at most --num-steps (100) batches, stopping when the smoothed loss
diverges. Prints the curve and the suggested lr (--method, default steep: the steepest descent
of the smoothed loss; also valley and minimum/10), --plot draws loss against lr (log axis) as
PNG. Nothing is trained or written otherwise.
Example: trainkit lr-find optimizer=sgd optimizer.momentum=0.9 --plot lr.png"""

_OPTIONS = {"--min-lr": ("min_lr", float), "--max-lr": ("max_lr", float), "--num-steps": ("num_steps", int),
            "--method": ("method", str), "--plot": ("plot", str)}


def _parse(argv: list[str]) -> tuple[dict, list[str]]:
    options, overrides = {}, []
    args = iter(argv)
    for arg in args:
        name, _, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name not in _OPTIONS:
            if arg.startswith("-"):
                raise ValueError(f"unknown option {arg!r}")
            overrides.append(arg)
            continue
        key, kind = _OPTIONS[name]
        value = value or next(args, None)
        if value is None:
            raise ValueError(f"{name} needs a value")
        try:
            options[key] = kind(value)
        except ValueError:
            raise ValueError(f"{name}={value!r} is not a valid {kind.__name__}") from None
    return options, overrides


def cmd_lr_find(argv: list[str]) -> int:
    """``trainkit lr-find``: build the run (no directory), run ``Trainer.lr_find``, print, plot."""
    if any(a in ("-h", "--help") for a in argv):
        print(USAGE)
        return 0
    from ..compose import ConfigError, build_run
    from ..overrides import validate

    try:
        options, overrides = _parse(argv)
    except ValueError as exc:
        return error(f"{exc}\n{USAGE}")
    plot = options.pop("plot", None)
    try:
        load_plugins()
        cfg = validate(overrides)[0]
        run = build_run(cfg)
    except ConfigError as exc:
        return error(f"config: {exc}")
    trainer = run.trainer
    try:
        if cfg.get("resume") is not None:
            trainer.load_checkpoint(cfg.resume)
        elif cfg.get("init_from") is not None:
            trainer.init_weights(cfg.init_from, strict=trainer.init_strict)
        result = trainer.lr_find(**options)
    except (ValueError, FileNotFoundError) as exc:
        return error(str(exc), EXIT_TRAINING_ERROR)
    print(result.table())
    if result.stopped:
        print(f"trainkit: stopped after {len(result.lrs)} steps: {result.stopped}")
    if result.suggestion is None:
        return error("too few steps for a suggestion; raise --num-steps or --max-lr", EXIT_TRAINING_ERROR)
    others = ", ".join(f"{k} {v:.3g}" for k, v in result.suggestions.items() if k != result.method)
    print(f"trainkit: suggested lr {result.suggestion:.3g} ({result.method}; {others})")
    print(f"trainkit: train with: trainkit train {' '.join(overrides + [f'lr={result.suggestion:.3g}'])}")
    if plot:
        print(f"trainkit: wrote {result.plot(plot)}")
    return 0
