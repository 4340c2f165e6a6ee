"""Models registered by name, as timm does: ``create_model("resnet101", num_classes=2)``.

Each entry point builds a module whose parameter names and shapes are torchvision's, so that
torchvision weight files load with ``strict=True`` ("weight compat requires it").
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: register a model builder under its function name."""
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    """Names of every registered architecture, sorted."""
    return sorted(_REGISTRY)


def create_model(name: str, *, num_classes: int = 2, **kwargs) -> nn.Module:
    """Build architecture ``name`` with a ``num_classes``-way classifier.

    Raises:
        ValueError: ``name`` is not registered (the message lists what is).
    """
    try:
        builder = _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown architecture {name!r}; choose one of: {', '.join(list_models())}"
        ) from None
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    return builder(num_classes=num_classes, **kwargs)
