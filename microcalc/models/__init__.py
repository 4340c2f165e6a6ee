"""Model zoo (torch only): ResNet, ResNeXt, VGG16-BN and the small 4-conv CNN, by name.

Every model is a :class:`~microcalc.models.base.PatchClassifier`: ``forward_features`` (last
feature map), ``forward_head`` (logits), ``stem_modules()`` (frozen by ``--freeze partial``) and
``classifier_module()`` (trained alone by ``--freeze head``).
"""

from microcalc.models import resnet, smallcnn, triage_cnn, vgg  # noqa: F401  (registers the architectures)
from microcalc.models.registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]
