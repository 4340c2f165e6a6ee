"""The stabilisers of small runs (microcalc/trainer/stability.py): exact values on tiny models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from microcalc.trainer.data import discover
from microcalc.trainer.fit import TrainOptions, fit
from microcalc.trainer.optim import make_schedule
from microcalc.trainer.stability import SmoothedSelector, WeightEma, reestimate_bn


def _linear(value: float) -> nn.Linear:
    layer = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(value)
    return layer


def test_ema_update_arithmetic_without_warmup():
    model = _linear(0.0)
    ema = WeightEma(model, decay=0.9, warmup=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # 0.9 * 0 + 0.1 * 1
    assert ema.module.weight.item() == pytest.approx(0.1, abs=1e-7)
    ema.update(model)  # 0.9 * 0.1 + 0.1 * 1
    assert ema.module.weight.item() == pytest.approx(0.19, abs=1e-7)
    assert model.weight.item() == 1.0 and not ema.module.weight.requires_grad


def test_ema_decay_warms_up_to_its_cap():
    ema = WeightEma(_linear(0.0), decay=0.99)
    assert ema.decay_at(1) == pytest.approx(1 - 2 ** (-2 / 3))  # 0.370: the first step mostly replaces
    assert ema.decay_at(300) == pytest.approx(1 - 301 ** (-2 / 3))  # 0.978
    assert ema.decay_at(10**6) == 0.99
    model = _linear(0.0)
    ema = WeightEma(model, decay=0.99)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    assert ema.module.weight.item() == pytest.approx(2 ** (-2 / 3), abs=1e-6)


def test_ema_averages_float_buffers_and_copies_counters():
    model = nn.BatchNorm1d(1)
    ema = WeightEma(model, decay=0.5, warmup=False)
    with torch.no_grad():
        model.running_mean.fill_(4.0)
    model.num_batches_tracked.fill_(7)
    ema.update(model)
    assert ema.module.running_mean.item() == 2.0 and ema.module.num_batches_tracked.item() == 7
    restored = WeightEma(model, decay=0.5, warmup=False)
    restored.load_state_dict(ema.state_dict())
    assert restored.updates == 1 and restored.module.running_mean.item() == 2.0


def test_ema_refuses_a_decay_outside_0_1():
    with pytest.raises(ValueError, match="decay"):
        WeightEma(_linear(0.0), decay=1.0)


def test_bn_reestimation_restores_known_statistics():
    bn = nn.BatchNorm1d(2, momentum=0.1)
    with torch.no_grad():
        bn.running_mean.fill_(100.0)  # stale statistics of other weights
        bn.running_var.fill_(100.0)
    batches = [
        torch.tensor([[0.0, 1.0], [2.0, 5.0]]),
        torch.tensor([[4.0, 3.0], [6.0, 3.0]]),
        torch.ones(2, 2),
    ]
    used = reestimate_bn(bn, iter(batches), max_batches=2)  # the third batch is not read
    assert used == 2
    # the mean of the batch means and of the unbiased batch variances
    assert bn.running_mean.tolist() == pytest.approx([3.0, 3.0])
    assert bn.running_var.tolist() == pytest.approx([2.0, 4.0])  # (2 + 2) / 2, (8 + 0) / 2
    assert bn.momentum == 0.1 and not bn.training


def test_bn_reestimation_keeps_the_frozen_layers():
    """--freeze's layers trained on their stored statistics; only the others are re-estimated."""
    from microcalc.trainer.validate import frozen_batchnorms

    model = nn.Sequential(nn.BatchNorm1d(1), nn.BatchNorm1d(1))
    with torch.no_grad():
        model[0].running_mean.fill_(5.0)
    keep = frozen_batchnorms(model, [model[0]])
    assert keep == frozenset({"0"})
    reestimate_bn(model, iter([torch.tensor([[1.0], [3.0]])]), max_batches=1, keep=keep)
    assert model[0].running_mean.item() == 5.0 and model[0].num_batches_tracked.item() == 0
    # the second layer saw the first one's output in eval mode: (x - 5) / sqrt(1 + eps)
    assert model[1].running_mean.item() == pytest.approx(-3.0, abs=1e-4)


def test_bn_reestimation_without_batchnorm_is_a_no_op():
    assert reestimate_bn(_linear(1.0), iter([torch.ones(1, 1)]), max_batches=5) == 0


def test_warmup_schedule_values():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_schedule(opt, schedule="cosine", epochs=4, warmup_epochs=1, steps_per_epoch=4)
    lrs = []
    for _ in range(8):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    warm = [0.25, 0.5, 0.75, 1.0]  # linear over the first epoch's 4 steps
    cosine = [0.5 * (1 + math.cos(math.pi * t / 12)) for t in range(4)]  # then cosine over 12 steps
    assert lrs == pytest.approx(warm + cosine)


@pytest.mark.parametrize(
    ("window", "patience", "saved", "stops_after"),
    [
        (1, 2, [1, 2], 4),  # the plain rule keeps the lucky 0.9 of epoch 2 and stops at epoch 4
        (3, 2, [1, 2, 4, 6], None),  # the 3-epoch mean: 0.5, 0.7, 0.633, 0.733, 0.7, 0.8
    ],
)
def test_smoothed_selection_on_a_given_sequence(window, patience, saved, stops_after):
    aucs = [0.5, 0.9, 0.5, 0.8, 0.8, 0.8]
    selector = SmoothedSelector(window=window, patience=patience)
    kept, stopped = [], None
    for epoch, auc in enumerate(aucs, start=1):
        if selector.step([auc, 0.0]):
            kept.append(epoch)
        if selector.stop and stopped is None:
            stopped = epoch
    assert kept == saved and stopped == stops_after
    if window == 3:
        assert selector.smoothed == pytest.approx(0.8)
        again = SmoothedSelector(window=3, patience=2)
        again.load_state_dict(selector.state_dict())
        assert again.step([0.2, 0.0]) is False and again.smoothed == pytest.approx(0.6)


def test_checkpoint_holds_the_ema_weights(tiny_patches, tmp_path):
    """The saved state dict is the EMA's (BatchNorm re-estimated), a plain one that mc-export reads."""
    data = discover(tiny_patches, positive_class="cluster")
    seen: dict[int, dict[str, torch.Tensor]] = {}

    def hook(epoch, model, ema):
        seen[epoch] = {k: v.clone() for k, v in ema.module.state_dict().items()}
        assert not torch.equal(ema.module.features[0].weight, model.features[0].weight)

    opts = TrainOptions(arch="smallcnn", patch_size=32, batch_size=8, lr=2e-3, epochs=2, progress=False)
    idx = np.arange(len(data))
    metrics, best = fit(data.subset(idx[::2]), data.subset(idx[1::2]), opts, tmp_path, on_epoch=hook)
    ema_state = seen[metrics["best_epoch"]]
    assert best.keys() == ema_state.keys()
    for key, value in best.items():
        if "running" in key:  # re-estimated from training batches, so not the averaged buffers
            continue
        assert torch.equal(value, ema_state[key]), key
