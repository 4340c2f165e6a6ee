"""Model zoo: torchvision parameter counts and layer names, strict loads, registry errors."""

from __future__ import annotations

import pytest
import torch

from microcalc.models import create_model, list_models

# torchvision's documented parameter counts for the ImageNet (1000-class) models.
TORCHVISION_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "resnext101_32x8d": 88_791_336,
    "vgg16_bn": 138_365_992,
}


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name,expected", sorted(TORCHVISION_PARAMS.items()))
def test_imagenet_parameter_counts_match_torchvision(name: str, expected: int) -> None:
    with torch.device("meta"):
        assert _count(create_model(name, num_classes=1000)) == expected


def test_resnet101_two_classes_has_published_parameter_count() -> None:
    with torch.device("meta"):
        assert _count(create_model("resnet101", num_classes=2)) == 42_504_258


@pytest.mark.parametrize(
    "name,keys",
    [
        # torchvision names that weight files depend on, one row per layout family
        (
            "resnet101",
            [
                "conv1.weight",
                "bn1.running_var",
                "layer3.22.conv3.weight",
                "layer4.0.downsample.1.weight",
                "layer1.0.bn1.num_batches_tracked",
                "fc.weight",
                "fc.bias",
            ],
        ),
        ("resnet18", ["layer1.1.conv2.weight", "layer2.0.downsample.0.weight", "fc.weight"]),
        ("resnext50_32x4d", ["layer2.3.conv2.weight", "fc.bias"]),
        (
            "vgg16_bn",
            [
                "features.0.weight",
                "features.40.weight",
                "features.41.running_mean",
                "classifier.0.weight",
                "classifier.3.weight",
                "classifier.6.bias",
            ],
        ),
    ],
)
def test_torchvision_layer_names(name: str, keys: list[str]) -> None:
    with torch.device("meta"):
        state = create_model(name, num_classes=2).state_dict()
    for key in keys:
        assert key in state, key


def test_grouped_conv_shape_of_resnext101_32x8d() -> None:
    with torch.device("meta"):
        state = create_model("resnext101_32x8d", num_classes=2).state_dict()
    # width = 64 * 8/64 * 32 = 256 in the first stage; 32 groups -> 8 input channels per group
    assert tuple(state["layer1.0.conv2.weight"].shape) == (256, 8, 3, 3)


@pytest.mark.parametrize("name", ["resnet18", "smallcnn", "vgg16_bn"])
def test_forward_shapes_and_feature_split(name: str) -> None:
    model = create_model(name, num_classes=3).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        logits = model(x)
        split = model.forward_head(model.forward_features(x))
    assert logits.shape == (2, 3)
    torch.testing.assert_close(logits, split)


def test_smallcnn_keeps_60x60_layout() -> None:
    model = create_model("smallcnn", num_classes=2).eval()
    feats = model.forward_features(torch.rand(1, 3, 60, 60))
    assert feats.shape == (1, 128, 3, 3)  # 60 -> 30 -> 15 -> 7 -> 3
    assert [m.out_channels for m in model.features if isinstance(m, torch.nn.Conv2d)] == [32, 64, 128, 128]
    assert [m.out_features for m in model.classifier if isinstance(m, torch.nn.Linear)] == [256, 128, 2]


def test_strict_load_round_trip() -> None:
    src = create_model("resnet34", num_classes=2)
    dst = create_model("resnet34", num_classes=2)
    dst.load_state_dict(src.state_dict(), strict=True)
    for (k, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        assert torch.equal(a, b), k


def test_unknown_architecture_lists_choices() -> None:
    with pytest.raises(ValueError, match="unknown architecture 'resnet7'.*resnet101"):
        create_model("resnet7")


def test_registry_lists_the_zoo() -> None:
    assert set(TORCHVISION_PARAMS) | {"smallcnn", "triagecnn"} == set(list_models())
