"""Models: the report's parameter counts and tables, shapes, gradients, ResNet18 offline."""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.error import URLError

import pytest
import torch
from torch import nn

from fakeface_lib.models import cnn as models
from fakeface_lib.models.cnn import INPUT_SIZE, Model1, Model2, build_model, summary_table
from fakeface_lib.models.resnet import WeightsUnavailableError, build_resnet18, resnet18_param_groups
from fakeface_lib.models.pretrained import check_weights_reachable, load_resnet18_or_fallback
from fakeface_lib.utils import count_parameters

# (layer type, params) rows of the report's torchsummary tables, ReLU rows aside.
REPORT_MODEL1 = [("Conv2d", 896), ("MaxPool2d", 0), ("Conv2d", 18_496), ("MaxPool2d", 0),
                 ("Linear", 8_388_736), ("Dropout", 0), ("Linear", 258)]
REPORT_MODEL2 = [("Conv2d", 896), ("BatchNorm2d", 64), ("Conv2d", 18_496), ("MaxPool2d", 0),
                 ("Conv2d", 73_856), ("BatchNorm2d", 256), ("Conv2d", 295_168), ("Dropout", 0),
                 ("MaxPool2d", 0), ("Linear", 134_218_240), ("Dropout", 0), ("Linear", 1_026)]


@pytest.fixture(scope="module")
def model1() -> Model1:
    torch.manual_seed(0)
    return Model1()


@pytest.fixture(scope="module")
def model2() -> Model2:
    """134 M parameters (540 MB): built once for the whole module."""
    torch.manual_seed(0)
    return Model2()


def table_rows(table: str) -> list[tuple[str, int]]:
    """(layer type, params) per row of a torchsummary table, ReLU rows left out."""
    rows = re.findall(r"^\s*(\w+)-\d+\s+\[.*?\]\s+([\d,]+)\s*$", table, flags=re.M)
    return [(kind, int(n.replace(",", ""))) for kind, n in rows if kind != "ReLU"]


def test_parameter_counts_match_the_report(model1, model2):
    assert count_parameters(model1) == 8_408_386
    assert count_parameters(model2) == 134_608_002


@pytest.mark.parametrize("name", ["model1", "model2"])
def test_forward_shape_and_finite(name, model1, model2):
    model = {"model1": model1, "model2": model2}[name].eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, INPUT_SIZE, INPUT_SIZE))
    assert logits.shape == (2, 2)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("shape", [(2, 3, 256, 256), (1, 3, 64, 64), (3, 128, 128), (1, 1, 128, 128)])
def test_wrong_input_size_fails_clearly(model1, shape):
    with pytest.raises(ValueError) as err:
        model1(torch.zeros(shape))
    message = str(err.value)
    assert "(N, 3, 128, 128)" in message and str(tuple(shape)) in message
    assert "image_size=128" in message


def test_model2_rejects_the_reports_256_input(model2):
    with pytest.raises(ValueError, match=r"\(1, 3, 256, 256\)"):
        model2(torch.zeros(1, 3, 256, 256))


def _assert_every_layer_gets_gradients(model: nn.Module, batch: int) -> None:
    model.train()
    model.zero_grad(set_to_none=True)
    images = torch.randn(batch, 3, INPUT_SIZE, INPUT_SIZE)
    loss = nn.functional.cross_entropy(model(images), torch.arange(batch) % 2)
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, f"no gradient reaches {name}"
    model.zero_grad(set_to_none=True)


def test_gradients_reach_every_layer_model1(model1):
    torch.manual_seed(1)
    _assert_every_layer_gets_gradients(model1, batch=4)


def test_gradients_reach_every_layer_model2(model2):
    torch.manual_seed(1)
    _assert_every_layer_gets_gradients(model2, batch=2)


def test_summary_tables_reproduce_the_report_at_128(model1, model2):
    table1 = summary_table(model1)
    assert table_rows(table1) == REPORT_MODEL1
    assert "[-1, 32, 128, 128]" in table1 and "Total params: 8,408,386" in table1
    for number in ("896", "18,496", "8,388,736", "258"):
        assert number in table1
    table2 = summary_table(model2)
    assert table_rows(table2) == REPORT_MODEL2
    assert "Total params: 134,608,002" in table2
    for number in ("73,856", "295,168", "134,218,240", "1,026"):
        assert number in table2


def test_summary_table_restores_training_mode(model1):
    model1.train()
    summary_table(model1, device="cpu")
    assert model1.training
    with pytest.raises(ValueError, match="cpu"):
        summary_table(model1, device="mps")


def test_sequential_blocks_and_cam_layer(model1, model2):
    for model in (model1, model2):
        assert isinstance(model.features, nn.Sequential)
        assert isinstance(model.classifier, nn.Sequential)
        convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
        assert model.cam_layer is convs[-1]
    assert model1.cam_layer is model1.features[3]
    assert model2.cam_layer is model2.features[9]


def test_dropout_argument_is_used():
    model = Model1(dropout=0.2)
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.2]


def test_resnet18_head_and_freezing():
    model = build_resnet18(weights=None)
    assert model.fc.out_features == 2 and model.fc.in_features == 512
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 2)
    frozen = build_resnet18(num_classes=3, weights=None, freeze_backbone=True)
    assert count_parameters(frozen, trainable_only=True) == 512 * 3 + 3
    assert count_parameters(frozen) == count_parameters(model) - 2 * 512 - 2 + 3 * 512 + 3


def test_resnet18_param_groups():
    model = build_resnet18(weights=None)
    groups = resnet18_param_groups(model, head_lr=1e-3, backbone_lr=1e-4)
    assert [g["lr"] for g in groups] == [1e-4, 1e-3]
    assert sum(p.numel() for g in groups for p in g["params"]) == count_parameters(model)
    assert groups[1]["params"] == [model.fc.weight, model.fc.bias]
    frozen = build_resnet18(weights=None, freeze_backbone=True)
    assert len(resnet18_param_groups(frozen, 1e-3, 1e-4)) == 1


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to fetch weights fails as it does without a network."""
    from torchvision.models._api import WeightsEnum

    def no_network(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(WeightsEnum, "get_state_dict", no_network)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    monkeypatch.setattr("fakeface_lib.data.download.is_online", lambda host: True)  # a DNS failure mid-download


def test_resnet18_offline_raises_a_clear_error(offline):
    with pytest.raises(WeightsUnavailableError, match="weights=None") as err:
        build_resnet18(weights="DEFAULT")
    assert isinstance(err.value, RuntimeError)
    assert isinstance(err.value.__cause__, URLError)


def test_unreachable_weights_fail_before_any_download(monkeypatch, tmp_path, capfd):
    from torchvision.models import ResNet18_Weights

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # nothing cached
    monkeypatch.setattr("fakeface_lib.data.download.is_online", lambda host: False)
    url = ResNet18_Weights.DEFAULT.url
    with pytest.raises(WeightsUnavailableError, match="cannot be reached.*weights=None"):
        check_weights_reachable(url)
    model, pretrained = load_resnet18_or_fallback()
    assert pretrained is False and model.fc.out_features == 2
    assert "Downloading" not in capfd.readouterr().err
    cached = tmp_path / "checkpoints" / url.rsplit("/", 1)[1]
    cached.parent.mkdir()
    cached.write_bytes(b"")
    check_weights_reachable(url)  # cached: no probe needed


def test_weights_or_none_says_what_torchvision_can_load(monkeypatch, tmp_path, capsys):
    from fakeface_lib.models.pretrained import resnet18_weights_or_none

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # nothing cached
    monkeypatch.setattr("fakeface_lib.data.download.is_online", lambda host: False)
    assert resnet18_weights_or_none(None) is None and capsys.readouterr().out == ""
    assert resnet18_weights_or_none("DEFAULT") is None
    assert "No pretrained weights" in capsys.readouterr().out
    monkeypatch.setattr("fakeface_lib.data.download.is_online", lambda host: True)
    assert resnet18_weights_or_none("IMAGENET1K_V1") == "IMAGENET1K_V1"
    with pytest.raises(KeyError):  # torchvision's own check of the name
        resnet18_weights_or_none("NO_SUCH_WEIGHTS")


def test_model_code_does_not_probe_the_network():
    code = ("import sys; from fakeface_lib.models.cnn import build_model; "
            "from fakeface_lib.models.resnet import build_resnet18; "
            "build_model('model1'); build_resnet18(weights=None); "
            "assert not {'fakeface_lib.data.download', 'fakeface_lib.models.pretrained'} & set(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_resnet18_fallback_prints_one_line(offline, capsys):
    model, pretrained = load_resnet18_or_fallback(freeze_backbone=True)
    assert pretrained is False
    assert model.fc.out_features == 2
    assert count_parameters(model, trainable_only=True) == 1026
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "weights=None" in out


def test_build_model_registry():
    assert isinstance(build_model("model1", dropout=0.3), Model1)
    assert isinstance(build_model("resnet18", weights=None), nn.Module)
    assert set(models.MODEL_BUILDERS) == {"model1", "model2", "resnet18"}
    with pytest.raises(ValueError, match="model1"):
        build_model("vgg16")


def test_model1_at_another_image_size():
    default = Model1()
    assert default.image_size == INPUT_SIZE and count_parameters(default) == 8_408_386
    full = Model1(image_size=160)
    assert full.classifier[0].in_features == 64 * 40 * 40
    assert count_parameters(full) == 13_126_978  # only the first linear layer grows
    assert full(torch.randn(2, 3, 160, 160)).shape == (2, 2)
    with pytest.raises(ValueError, match=r"\(N, 3, 160, 160\).*image_size=160"):
        full(torch.randn(2, 3, 128, 128))
    assert isinstance(build_model("model1", image_size=96), Model1)
    with pytest.raises(ValueError, match="image_size"):
        Model1(image_size=2)


def test_model2_at_the_smoke_size_is_smaller_but_still_too_large_for_drive():
    """Smoke runs build Model 2 at SMOKE_IMAGE_SIZE: a quarter of the first linear layer, the
    same layers otherwise, and its checkpoint still above Drive's limit, so a smoke run takes
    the path a real Model 2 run takes (checkpoints on the runtime's disk)."""
    from fakeface_lib.colab import DRIVE_CHECKPOINT_LIMIT, checkpoint_size
    from fakeface_lib.setup import SMOKE_IMAGE_SIZE

    small = Model2(image_size=SMOKE_IMAGE_SIZE)
    side = SMOKE_IMAGE_SIZE // 4
    assert small.classifier[0].in_features == 256 * side * side
    assert count_parameters(small) == 134_608_002 - 256 * (32 * 32 - side * side) * 512
    assert [type(m) for m in small.modules()] == [type(m) for m in Model2().modules()]
    assert small(torch.randn(2, 3, SMOKE_IMAGE_SIZE, SMOKE_IMAGE_SIZE)).shape == (2, 2)
    with pytest.raises(ValueError, match=rf"image_size={SMOKE_IMAGE_SIZE}"):
        small(torch.randn(2, 3, INPUT_SIZE, INPUT_SIZE))
    assert checkpoint_size(small, "adadelta") > DRIVE_CHECKPOINT_LIMIT
    assert isinstance(build_model("model2", image_size=SMOKE_IMAGE_SIZE), Model2)
    with pytest.raises(ValueError, match="image_size"):
        Model2(image_size=True)


def test_model1_default_is_unchanged_by_the_image_size_option():
    torch.manual_seed(3)
    a = Model1()
    torch.manual_seed(3)
    b = Model1(image_size=INPUT_SIZE)
    assert repr(a) == repr(b)  # the run identity (fakeface_lib.training.identity) holds the repr
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
