import pytest
import torch

from dml_utils.models import MLPEmbedding, SmallConvNet, build_backbone, resnet18_embedding, weight_distance


def test_keras_init_and_weight_distance():
    torch.manual_seed(0)
    m = MLPEmbedding()
    lin = [mod for mod in m if isinstance(mod, torch.nn.Linear)]
    bound = (6 / (784 + 128)) ** 0.5  # Glorot uniform
    assert lin[0].weight.abs().max() <= bound and lin[0].weight.abs().max() > 0.95 * bound
    assert all((layer.bias == 0).all() for layer in lin)
    assert sum(isinstance(mod, torch.nn.Dropout) for mod in m) == 2 and isinstance(m[-1], torch.nn.ReLU)
    s0 = {k: v.clone() for k, v in m.state_dict().items()}
    assert weight_distance(m, s0) == 0
    with torch.no_grad():
        lin[0].weight.mul_(2)
    assert weight_distance(m, s0) > 0


def test_backbones_give_128d_embeddings():
    x = torch.rand(3, 28, 28)
    assert SmallConvNet()(x).shape == (3, 128)
    with pytest.warns(UserWarning, match="RANDOM initialization"):
        net = resnet18_embedding(128, in_channels=1, pretrained=True)
    assert net(x).shape == (3, 128) and net.imagenet_weights is False


def test_build_backbone_by_name_and_image_shape():
    assert build_backbone("convnet", 16, (28, 28))(torch.rand(2, 28, 28)).shape == (2, 16)
    assert build_backbone("convnet", 8, (3, 32, 32))(torch.rand(2, 3, 32, 32)).shape == (2, 8)
    with pytest.raises(ValueError, match="unknown backbone 'vgg'; use one of \\['convnet', 'resnet18'\\]"):
        build_backbone("vgg", 8, (28, 28))
