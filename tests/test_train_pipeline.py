"""Training data: luma sets from folders, aligned random patches keyed by (seed, step), paper scoring."""

from __future__ import annotations

import numpy as np
import pytest

from falsr_cli.data import color
from falsr_cli.data.images import write_image
from falsr_cli.data.imresize import imresize
from falsr_cli.errors import FalsrError
from falsr_cli.train.pipeline import LumaSet, PatchSampler, load_luma_set, luma, patch_note


def _subsampled_set(seed: int = 0) -> LumaSet:
    """HR noise with LR = HR[::2, ::2]: any misaligned crop shows up as a mismatch."""
    rng = np.random.default_rng(seed)
    hrs = [rng.random((40, 52)).astype(np.float32), rng.random((30, 36)).astype(np.float32)]
    return LumaSet(["a", "b"], [h[::2, ::2].copy() for h in hrs], hrs, 2)


def test_patches_are_aligned_and_augmented_together():
    images = _subsampled_set()
    plain = PatchSampler(images, batch=8, patch=16, seed=1, augment=False)
    lr, hr = (t.numpy() for t in plain.batch_at(0))
    assert lr.shape == (8, 8, 8, 1) and hr.shape == (8, 16, 16, 1)
    np.testing.assert_array_equal(hr[:, ::2, ::2], lr)
    aug = PatchSampler(images, batch=64, patch=16, seed=1, augment=True)
    lr, hr = (t.numpy() for t in aug.batch_at(0))
    phases = []
    for k in range(64):
        # A flip moves the sampling phase; a transpose keeps the patch square: one phase must match.
        match = [(a, b) for a in (0, 1) for b in (0, 1) if np.array_equal(hr[k, a::2, b::2], lr[k])]
        assert match, f"sample {k}: LR is not the subsampled HR under any flip"
        phases.append(match[0])
    assert len(set(phases)) == 4  # all four flip combinations occur in 64 draws


def test_batches_are_a_pure_function_of_seed_and_step():
    images = _subsampled_set()
    s = PatchSampler(images, batch=4, patch=8, seed=7)
    a = s.batch_at(5)[1].numpy()
    np.testing.assert_array_equal(a, PatchSampler(images, batch=4, patch=8, seed=7).batch_at(5)[1].numpy())
    assert not np.array_equal(a, s.batch_at(6)[1].numpy())
    assert not np.array_equal(a, PatchSampler(images, batch=4, patch=8, seed=8).batch_at(5)[1].numpy())
    # A resumed pipeline (start at step 3) yields exactly the batches of steps 3, 4, 5.
    resumed = [hr.numpy() for _, hr in s.dataset(3, 6)]
    np.testing.assert_array_equal(resumed[2], a)


def test_images_smaller_than_the_patch_are_left_out_and_named():
    images = _subsampled_set()
    s = PatchSampler(images, batch=2, patch=32, seed=0)  # b (36x30 HR) cannot hold a 32-px patch
    assert s.dropped == ["b"] and s.total == 2 and s.images.names == ["a"]
    assert patch_note(s.dropped, s.total, 32) == (
        "1 of 2 training images are smaller than the 32-px patch and are left out (b)")
    assert patch_note([], 2, 16) is None
    assert PatchSampler(images, batch=2, patch=30, seed=0).dropped == []
    too_big = r"patch: 48 is larger than every training image \(the largest fits 40 px\)"
    with pytest.raises(FalsrError, match=too_big):
        PatchSampler(images, batch=2, patch=48, seed=0)


def test_hr_folder_becomes_luma_pairs(tmp_path):
    folder = tmp_path / "hr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    imgs = {"x1": rng.integers(0, 256, (20, 26, 3), dtype=np.uint8),
            "x2": rng.integers(0, 256, (17, 16, 3), dtype=np.uint8)}
    for name, img in imgs.items():
        write_image(folder / f"{name}.png", img)
    s = load_luma_set(str(folder), 2, data_dir=tmp_path / "data")
    assert s.names == ["x1", "x2"]
    assert s.hr[1].shape == (16, 16) and s.lr[1].shape == (8, 8)  # modcropped, then halved
    np.testing.assert_allclose(s.hr[0], color.rgb_to_ypbpr(imgs["x1"])[..., 0], atol=1e-6)
    assert s.hr[0].dtype == np.float32 and 0.0 <= s.lr[0].min() and s.lr[0].max() <= 1.0
    assert len(s.fingerprint()) == 16


def test_scale_augmentation_adds_smaller_copies_made_like_every_pair(tmp_path):
    folder = tmp_path / "hr"
    folder.mkdir()
    img = np.random.default_rng(1).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    write_image(folder / "x.png", img)
    s = load_luma_set(str(folder), 2, data_dir=tmp_path / "data", downscales=(0.5, 0.7, 0.02))
    assert s.names == ["x", "x@0.5", "x@0.7"]  # 0.02 leaves less than one LR pixel: left out
    small = imresize(img, 0.5)
    assert small.shape == (20, 15, 3)
    np.testing.assert_allclose(s.hr[1], luma(small[:, :14]), atol=1e-6)  # modcropped to even width
    np.testing.assert_allclose(s.lr[1], luma(imresize(small[:, :14], 0.5)), atol=1e-6)
    assert s.hr[2].shape == (28, 20) and s.lr[2].shape == (14, 10)  # ceil(0.7·40) = 28, ceil(0.7·30) = 21
    assert s.fingerprint() != load_luma_set(str(folder), 2, data_dir=tmp_path / "data").fingerprint()


def test_empty_and_unreadable_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FalsrError, match="no images in"):
        load_luma_set(str(tmp_path / "empty"), 2, data_dir=tmp_path / "data")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"not a png")
    with pytest.raises(FalsrError, match="x.png"):
        load_luma_set(str(tmp_path / "bad"), 2, data_dir=tmp_path / "data")
    with pytest.raises(FalsrError, match="unknown data set or folder"):
        load_luma_set("NoSuchSet", 2, data_dir=tmp_path / "data")


def test_published_weights_in_a_run_validate_to_the_reference(reference_dir, benchmark_mirror, published,
                                                             tmp_path, monkeypatch):
    """FALSR-C's weights as a run checkpoint, read back and validated on Set5: the reference numbers."""
    import tensorflow as tf

    from falsr_cli.atomic import write_json
    from falsr_cli.models.pb_import import import_pb
    from falsr_cli.train.checkpoints import CheckpointManager
    from falsr_cli.train.config import TrainConfig
    from falsr_cli.train.pipeline import load_validation_set, validate_model
    from falsr_cli.train.runs import load_trained_model

    monkeypatch.setenv("FALSR_DATA_MIRROR", str(benchmark_mirror))
    arch, imported = import_pb(reference_dir / "FALSR-C.pb")
    run = tmp_path / "run"
    arch.save(run / "arch.json")
    write_json(run / "config.json", TrainConfig(arch="FALSR-C", val="Set5").to_dict())
    CheckpointManager(run / "checkpoints", tf.train.Checkpoint(model=imported)).save(0, {})
    _, model = load_trained_model(run)
    val = load_validation_set("Set5", 2, tmp_path / "data")
    psnr, ssim, kept = validate_model(model, val, keep_images=1)
    want_psnr, want_ssim = published["measured"]["FALSR-C.pb"]["Set5"]
    assert round(psnr, 4) == want_psnr and round(ssim, 5) == want_ssim
    assert kept[0][0] == "img_001" and kept[0][1].shape == val.hr[0].shape


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine"])
def test_optimizer_schedule_is_the_logged_schedule(schedule):
    from falsr_cli.train.config import TrainConfig, learning_rate
    from falsr_cli.train.trainer import WarmupSchedule

    c = TrainConfig(lr=2e-3, steps=100, schedule=schedule, warmup=10, decay_every=25, decay_gamma=0.3,
                    min_lr=1e-5)
    fn = WarmupSchedule.from_config_of_run(c)
    for i in (0, 5, 9, 10, 24, 25, 60, 99, 100):
        assert float(fn(i)) == pytest.approx(learning_rate(c, i), rel=1e-6)
