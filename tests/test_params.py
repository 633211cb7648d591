"""trainkit.params: pattern rules, freezing, param groups, no_decay, layer decay, lr slices, errors,
and the seeds' fine-tuning recipes written as config rules."""
from __future__ import annotations

import numpy as np
import pytest

import trainkit as tk
from trainkit import nn
from trainkit.builtin_plugins.clipping import GradClip
from trainkit.nn.utils import clip_grad_norm_, get_total_norm
from trainkit.optim import SGD
from trainkit.params import (
    ParamRuleError,
    build_param_groups,
    build_unfreeze_groups,
    format_param_groups,
    freeze,
    geometric_lrs,
    layer_keys,
    match_names,
    optimizer_keys,
)


class SegNet(nn.Module):
    """A pre-trained body, a segmentation head and a new classifier (the seeds' fine-tuning setup)."""

    def __init__(self):
        super().__init__()
        tk.manual_seed(0)
        self.features = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 8))
        self.seg_head = nn.Linear(8, 3)
        self.classifier = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))

    def forward(self, x):
        h = self.features(x)
        return self.classifier(h) + self.seg_head(h)


def _names(group):
    return group["param_names"]


def _train(model, optimizer, steps=5, transform=None, scale=1.0, dtype=np.float32):
    rng = np.random.default_rng(1)
    loss_fn = nn.MSELoss()
    for _ in range(steps):
        x = tk.tensor((rng.standard_normal((6, 4)) * scale).astype(dtype))
        y = tk.tensor(rng.standard_normal((6, 3)).astype(dtype))
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        params = [p for g in optimizer.param_groups for p in g["params"]]
        if transform is None or transform(params):
            optimizer.step()


# --------------------------------------------------------------------------- matching
def test_glob_and_regex_patterns():
    names = [n for n, _ in SegNet().named_parameters()]
    assert match_names(names, "classifier.*") == [
        "classifier.0.weight", "classifier.0.bias", "classifier.2.weight", "classifier.2.bias"
    ]
    assert match_names(names, "re:.*seg.*") == ["seg_head.weight", "seg_head.bias"]
    assert match_names(names, "*.bias")[:2] == ["features.0.bias", "features.1.bias"]
    assert match_names(names, "re:features\\.[13]\\..*") == [
        "features.1.weight", "features.1.bias", "features.3.weight", "features.3.bias"
    ]


def test_freeze_sets_requires_grad_and_returns_names():
    model = SegNet()
    frozen = freeze(model, ["re:.*seg.*"])
    assert frozen == ["seg_head.weight", "seg_head.bias"]
    assert [n for n, p in model.named_parameters() if not p.requires_grad] == frozen


# --------------------------------------------------------------------------- seeds' recipes
def test_recipe_a_default_lr_with_classifier_at_1e_2():
    """optim.SGD([{'params': features}, {'params': classifier, 'lr': 1e-2}], lr=1e-5), as rules."""
    model = SegNet().double()
    groups = build_param_groups(model, [{"params": "classifier.*", "lr": 1e-2}], base_lr=1e-5)
    opt = SGD(groups, lr=1e-5)
    assert [g["name"] for g in opt.param_groups] == ["default", "classifier.*"]
    assert [g["lr"] for g in opt.param_groups] == [1e-5, 1e-2]
    assert all(n.startswith(("features.", "seg_head.")) for n in _names(opt.param_groups[0]))
    assert all(n.startswith("classifier.") for n in _names(opt.param_groups[1]))
    # one plain SGD step moves each parameter by exactly lr * grad of its group
    before = {n: p.data.copy() for n, p in model.named_parameters()}
    _train(model, opt, steps=1, dtype=np.float64)
    for g in opt.param_groups:
        for n, p in zip(_names(g), g["params"]):
            np.testing.assert_allclose(before[n] - p.data, g["lr"] * p.grad, rtol=1e-6, atol=1e-15)


def test_recipe_b_freeze_seg_base_group_and_new_group():
    """Freeze every 'seg' parameter by regex; pre-trained body at 1e-4; the rest at the run lr."""
    model = SegNet()
    cfg_rules = [{"params": "features.*", "lr": 1e-4}]
    groups = build_param_groups(model, cfg_rules, base_lr=0.01, freeze=["re:.*seg.*"])
    opt = SGD(groups, lr=0.01, momentum=0.9, weight_decay=5e-4)
    frozen = {n: p.data.copy() for n, p in model.named_parameters() if "seg" in n}
    others = {n: p.data.copy() for n, p in model.named_parameters() if "seg" not in n}
    in_opt = {n for g in opt.param_groups for n in g["param_names"]}
    assert not any("seg" in n for n in in_opt) and len(frozen) == 2
    assert {g["name"]: g["lr"] for g in opt.param_groups} == {"default": 0.01, "features.*": 1e-4}
    assert all(g["momentum"] == 0.9 and g["weight_decay"] == 5e-4 for g in opt.param_groups)
    _train(model, opt, steps=5)
    params = dict(model.named_parameters())
    for n, before in frozen.items():
        assert params[n].requires_grad is False
        assert np.array_equal(params[n].data, before), f"{n} changed although frozen"
    for n, before in others.items():
        assert not np.array_equal(params[n].data, before), f"{n} did not move"


def test_recipe_d_clip_grad_norm_every_step_through_config():
    """clip_grad_norm_(max_norm=1.0) each step, written as trainer.grad_clip config."""
    clip = GradClip(**{"algorithm": "norm", "max": 1.0})
    norms_after = []

    def transform(params):
        ok = clip(params)
        norms_after.append(float(get_total_norm([p.grad for p in params]).item()))
        return ok

    a, b = SegNet(), SegNet()
    opt_a = SGD(build_param_groups(a, None, base_lr=0.1), lr=0.1)
    opt_b = SGD(b.parameters(), lr=0.1)
    _train(a, opt_a, steps=4, transform=transform, scale=5.0)

    def manual(params):
        clip_grad_norm_(params, max_norm=1.0)
        return True

    _train(b, opt_b, steps=4, transform=manual, scale=5.0)
    assert clip.last_norm > 1.0  # there was something to clip
    assert max(norms_after) <= 1.0 + 1e-5
    for (n, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=n)


# --------------------------------------------------------------------------- options
def test_lr_mult_weight_decay_and_extra_keys():
    model = SegNet()
    groups = build_param_groups(
        model,
        [{"params": "classifier.*", "lr_mult": 10, "weight_decay": 0.0, "momentum": 0.5},
         {"params": ["seg_head.weight", "seg_head.bias"], "name": "seg"}],
        base_lr=1e-3,
        weight_decay=1e-4,
    )
    by = {g["name"]: g for g in groups}
    assert set(by) == {"default", "classifier.*", "seg"}
    assert by["classifier.*"]["lr"] == pytest.approx(1e-2) and by["classifier.*"]["weight_decay"] == 0.0
    assert by["classifier.*"]["momentum"] == 0.5
    assert by["seg"]["lr"] == 1e-3 and by["default"]["weight_decay"] == 1e-4
    # every trainable parameter is in exactly one group
    all_names = [n for g in groups for n in g["param_names"]]
    assert sorted(all_names) == sorted(n for n, _ in model.named_parameters())


def test_no_decay_moves_bias_and_norm_params():
    model = SegNet()
    groups = build_param_groups(model, None, base_lr=0.1, weight_decay=0.05, no_decay=True)
    by = {g["name"]: g for g in groups}
    assert set(by) == {"default", "default/no_decay"}
    nd = by["default/no_decay"]
    assert nd["weight_decay"] == 0.0 and by["default"]["weight_decay"] == 0.05
    assert "features.1.weight" in nd["param_names"]  # BatchNorm weight
    assert all(n.endswith(".bias") or n == "features.1.weight" for n in nd["param_names"])
    assert all(n.endswith(".weight") for n in by["default"]["param_names"])


def test_layer_decay_timm_style():
    class Blocks(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(2, 4)
            self.blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
            self.head = nn.Linear(4, 2)

    model = Blocks()
    names = [n for n, _ in model.named_parameters()]
    assert layer_keys(names) == ["embed", "blocks.0", "blocks.1", "blocks.2", "head"]
    groups = build_param_groups(model, None, base_lr=1.0, layer_decay=0.75)
    lr_of = {n: g["lr"] for g in groups for n in g["param_names"]}
    assert lr_of["head.weight"] == 1.0
    assert lr_of["blocks.2.bias"] == pytest.approx(0.75)
    assert lr_of["blocks.0.weight"] == pytest.approx(0.75**3)
    assert lr_of["embed.weight"] == pytest.approx(0.75**4)


def test_lr_slice_geometric_over_ordered_groups():
    model = SegNet()
    rules = [{"params": "classifier.*"}, {"params": "seg_head.*"}]
    groups = build_param_groups(model, rules, lr_slice=(1e-5, 1e-3))
    lrs = {g["name"]: g["lr"] for g in groups}
    # model order: features (default group) -> seg_head -> classifier
    assert lrs["default"] == pytest.approx(1e-5)
    assert lrs["seg_head.*"] == pytest.approx(1e-4)
    assert lrs["classifier.*"] == pytest.approx(1e-3)
    assert geometric_lrs(1.0, 8.0, 4) == pytest.approx([1.0, 2.0, 4.0, 8.0])


def test_table_lists_groups_and_frozen():
    model = SegNet()
    groups = build_param_groups(model, [{"params": "classifier.*", "lr": 1e-2, "weight_decay": 0}],
                                base_lr=1e-5, freeze=["re:.*seg.*"])
    table = format_param_groups(groups, model)
    lines = table.splitlines()
    assert lines[0].split() == ["group", "parameters", "elements", "lr", "weight_decay"]
    assert lines[2].split() == ["default", "6", str(4 * 8 + 8 + 8 + 8 + 8 * 8 + 8), "1e-05", "(default)"]
    assert lines[3].split() == ["classifier.*", "4", str(8 * 6 + 6 + 6 * 3 + 3), "0.01", "0"]
    assert lines[4].split() == ["(frozen)", "2", str(8 * 3 + 3), "-", "-"]


# --------------------------------------------------------------------------- errors
def test_error_parameter_matched_by_two_rules():
    with pytest.raises(ParamRuleError) as err:
        build_param_groups(SegNet(), [{"params": "classifier.*"}, {"params": "*.bias"}])
    msg = str(err.value)
    assert "'classifier.0.bias'" in msg and "param_groups[0] ('classifier.*')" in msg
    assert "param_groups[1] ('*.bias')" in msg


def test_error_rule_matches_nothing_names_closest():
    with pytest.raises(ParamRuleError) as err:
        build_param_groups(SegNet(), [{"params": "clasifier.0.weight", "lr": 1e-2}])
    msg = str(err.value)
    assert "'clasifier.0.weight' matches no parameter" in msg
    assert "classifier.0.weight" in msg.split("Closest parameter names:")[1]
    with pytest.raises(ParamRuleError, match=r"freeze rule 're:.*segm.*' matches no parameter.*seg_head"):
        freeze(SegNet(), ["re:.*segm.*"])


def test_error_everything_frozen_counts_and_rules():
    model = SegNet()
    model.classifier.requires_grad_(False)
    with pytest.raises(ParamRuleError) as err:
        build_param_groups(model, None, freeze=["features.*", "seg_head.*"])
    msg = str(err.value)
    assert "every parameter is frozen: 12 parameters" in msg
    assert "'features.*' froze 6 parameters" in msg and "'seg_head.*' froze 2 parameters (27 elements)" in msg
    assert "(requires_grad=False before the rules)' froze 4 parameters" in msg


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"rules": [{"lr": 1.0}]}, r"param_groups\[0\] has no `params` pattern"),
        ({"rules": [{"params": "features.*", "lr": 1.0, "lr_mult": 2}]}, "sets both `lr` and `lr_mult`"),
        ({"rules": [{"params": "features.*", "lr_mult": 2}]}, "uses lr_mult but no base_lr"),
        ({"rules": [{"params": 3}]}, "`params` must be a pattern string"),
        ({"rules": [{"params": "re:(unclosed"}]}, "invalid regular expression"),
        ({"layer_decay": 0.5, "lr_slice": (1e-5, 1e-3)}, "use one of them"),
        ({"layer_decay": 1.5}, r"layer_decay must be in \(0, 1\]"),
        ({"lr_slice": (0.0, 1e-3)}, "lr_slice bounds must be positive"),
    ],
)
def test_option_errors(kwargs, match):
    rules = kwargs.pop("rules", None)
    with pytest.raises(ParamRuleError, match=match):
        build_param_groups(SegNet(), rules, **kwargs)


# --------------------------------------------------------------------------- rule keys, frozen rules, unfreeze
@pytest.mark.parametrize(
    "key,allowed,suggestion",
    [
        ("lr_mul", None, "lr_mult"),
        ("momentun", None, "momentum"),
        ("momentun", ("momentum", "dampening", "nesterov", "weight_decay", "lr"), "momentum"),
        ("weight_decy", ("betas", "eps"), "weight_decay"),
    ],
)
def test_rule_key_typo_is_an_error_with_did_you_mean(key, allowed, suggestion):
    with pytest.raises(ParamRuleError) as err:
        build_param_groups(SegNet(), [{"params": "classifier.*", key: 0.5}], base_lr=0.1, allowed_keys=allowed)
    msg = str(err.value)
    assert f"param_groups[0] ('classifier.*') has unknown key {key!r} (did you mean {suggestion!r}?)" in msg
    assert "Accepted: params, lr, lr_mult, weight_decay, name" in msg


def test_rule_keys_follow_the_optimizer():
    """A key the optimizer takes is copied; one it does not take (betas for SGD) is an error."""
    sgd_keys = optimizer_keys(SGD)
    assert "momentum" in sgd_keys and "betas" not in sgd_keys
    groups = build_param_groups(SegNet(), [{"params": "classifier.*", "momentum": 0.5}], allowed_keys=sgd_keys)
    assert groups[1]["momentum"] == 0.5
    with pytest.raises(ParamRuleError, match=r"unknown key 'betas'.*Accepted: .*momentum"):
        build_param_groups(SegNet(), [{"params": "classifier.*", "betas": [0.9, 0.99]}], allowed_keys=sgd_keys)
    opt = SGD(SegNet().parameters(), lr=0.1, momentum=0.9)
    assert set(optimizer_keys(opt)) == set(opt.defaults)


def test_rule_matching_only_frozen_parameters_is_an_error():
    with pytest.raises(ParamRuleError) as err:
        build_param_groups(SegNet(), [{"params": "features.*", "lr": 1e-5}], base_lr=0.1, freeze=["features.*"])
    msg = str(err.value)
    assert ("rule param_groups[0] ('features.*') matches only frozen parameters (frozen by 'features.*')"
            in msg)
    assert "unfreeze" in msg


def test_rule_over_frozen_parameters_applies_when_they_are_unfrozen():
    """The documented alternative: a rule for frozen parameters is pending until unfreeze adds them."""
    model = SegNet()
    rules = [{"params": "features.*", "lr": 1e-5, "weight_decay": 0.0}, {"params": "classifier.*", "lr_mult": 10}]
    groups = build_param_groups(model, rules, base_lr=0.1, weight_decay=1e-4, freeze=["features.*"],
                                unfreeze={"features.*": 3})
    assert [g["name"] for g in groups] == ["default", "classifier.*"]
    later = build_unfreeze_groups(model, {"features.*": 3}, rules, base_lr=0.1, weight_decay=1e-4)
    (g,) = later["features.*"]
    assert g["name"] == "unfreeze:features.*" and g["lr"] == 1e-5 and g["weight_decay"] == 0.0
    assert g["param_names"] == [n for n, _ in model.named_parameters() if n.startswith("features.")]


def test_unfreeze_groups_use_no_decay_rules_and_overrides():
    model = SegNet()
    rules = [{"params": "features.0.*", "lr": 1e-4, "momentum": 0.5}]
    kw = dict(base_lr=0.1, weight_decay=0.05, no_decay=True)
    build_param_groups(model, rules, freeze=["features.*"], unfreeze={"features.*": {"epoch": 2, "lr_mult": 0.1}},
                       **kw)
    (pat, groups), = build_unfreeze_groups(model, {"features.*": {"epoch": 2, "lr_mult": 0.1}}, rules, **kw).items()
    by = {g["name"]: g for g in groups}
    assert set(by) == {"unfreeze:features.*/default", "unfreeze:features.*/default/no_decay",
                       "unfreeze:features.*/features.0.*", "unfreeze:features.*/features.0.*/no_decay"}
    assert by["unfreeze:features.*/default"]["param_names"] == ["features.3.weight"]
    assert by["unfreeze:features.*/default"]["lr"] == pytest.approx(0.01)  # base 0.1 x unfreeze lr_mult 0.1
    assert by["unfreeze:features.*/default"]["weight_decay"] == 0.05
    nd = by["unfreeze:features.*/default/no_decay"]
    assert nd["param_names"] == ["features.1.weight", "features.1.bias", "features.3.bias"]  # BatchNorm + bias
    assert nd["weight_decay"] == 0.0
    r = by["unfreeze:features.*/features.0.*"]
    assert r["lr"] == pytest.approx(1e-5) and r["momentum"] == 0.5  # rule lr 1e-4 x 0.1, rule's extra key
    assert by["unfreeze:features.*/features.0.*/no_decay"]["param_names"] == ["features.0.bias"]
    # an explicit unfreeze lr replaces the rule's rate
    (groups,) = build_unfreeze_groups(model, {"features.0.*": {"epoch": 2, "lr": 0.3}}, rules, **kw).values()
    assert [(g["name"], g["lr"]) for g in groups] == [("unfreeze:features.0.*", 0.3),
                                                       ("unfreeze:features.0.*/no_decay", 0.3)]


def test_lr_slice_spreads_over_groups_unfrozen_later():
    model = SegNet()
    rules = [{"params": "classifier.*"}, {"params": "seg_head.*"}]
    groups = build_param_groups(model, rules, lr_slice=(1e-5, 1e-3), freeze=["features.*"],
                                unfreeze={"features.*": 1})
    lrs = {g["name"]: g["lr"] for g in groups}
    # the features (default group, first in the model) train from epoch 1: they take the low end
    assert lrs == pytest.approx({"seg_head.*": 1e-4, "classifier.*": 1e-3})
    (g,) = build_unfreeze_groups(model, {"features.*": 1}, rules, lr_slice=(1e-5, 1e-3))["features.*"]
    assert g["lr"] == pytest.approx(1e-5)


@pytest.mark.parametrize(
    "unfreeze,match",
    [
        ({"featurs.*": 2}, r"unfreeze rule 'featurs.\*' matches no parameter.*Closest parameter names: .*features"),
        ({"classifier.*": 2}, r"unfreeze rule 'classifier.\*' matches 4 parameters that are not frozen "
                              r"\(classifier.0.weight, .*\); it can only add frozen parameters back"),
        ({"features.*": 2, "*.bias": 3}, r"parameter 'features.0.bias' is matched by two unfreeze rules: "
                                         r"'features.\*' and '\*.bias'"),
        ({"features.*": {"epoch": 2, "lr_mul": 0.1}}, r"unknown keys \['lr_mul'\] \(did you mean 'lr_mult'\?\)"),
    ],
)
def test_unfreeze_rules_are_checked_before_training(unfreeze, match):
    with pytest.raises(ParamRuleError, match=match):
        build_param_groups(SegNet(), None, base_lr=0.1, freeze=["features.*"], unfreeze=unfreeze)


def test_table_lists_pending_unfreeze_groups():
    model = SegNet()
    unfreeze = {"features.*": {"epoch": 2, "lr_mult": 0.1}}
    groups = build_param_groups(model, None, base_lr=0.1, weight_decay=0.01, freeze=["re:.*seg.*", "features.*"],
                                no_decay=True, unfreeze=unfreeze)
    later = build_unfreeze_groups(model, unfreeze, None, base_lr=0.1, weight_decay=0.01, no_decay=True)
    table = format_param_groups(groups, model, pending=[(2, g) for g in later["features.*"]])
    rows = [line.split("  ") for line in table.splitlines()[2:]]
    rows = [[c.strip() for c in r if c.strip()] for r in rows]
    assert rows[-3] == ["unfreeze:features.* (epoch 2)", "2", str(4 * 8 + 8 * 8), "0.01", "0.01"]
    assert rows[-2] == ["unfreeze:features.*/no_decay (epoch 2)", "4", str(8 + 8 + 8 + 8), "0.01", "0"]
    assert rows[-1] == ["(frozen)", "2", str(8 * 3 + 3), "-", "-"]  # only the seg head stays frozen
