"""Frozen-graph loading: the op allow-list, the FALSR interface check, errors for non-graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import runtime_graphs as rg

from falsr_cli.errors import FalsrError
from falsr_cli.models import graphdef as g


def test_tiny_falsr_graph_loads_and_runs(tmp_path: Path) -> None:
    path = rg.write_graph(tmp_path / "tiny.pb", rg.falsr_like_graph_def())
    frozen = g.load_falsr_graph(path)
    y = np.random.default_rng(0).random((1, 5, 7, 1), dtype=np.float32)
    pbpr = np.full((1, 10, 14, 2), 128 / 255 - 0.5, np.float32)  # the graphs' neutral chroma
    out = frozen(y, pbpr)
    assert out.shape == (1, 10, 14, 3)
    # Zero chroma: R = G = B = luma, nearest-neighbour upscaled.
    np.testing.assert_allclose(out[..., 0], rg.nearest_luma(y)[..., 0], atol=1e-6)
    np.testing.assert_allclose(out[..., 1], out[..., 2], atol=1e-6)


def test_planted_read_file_is_refused(tmp_path: Path) -> None:
    path = rg.write_graph(tmp_path / "evil.pb", rg.falsr_like_graph_def(rg.plant_read_file))
    with pytest.raises(FalsrError, match=r"ReadFile") as info:
        g.load_falsr_graph(path)
    assert "\n" not in str(info.value)


def test_write_file_inside_function_library_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    graph_def = rg.falsr_like_graph_def(rg.plant_write_file_in_function(target))
    path = rg.write_graph(tmp_path / "evil.pb", graph_def)
    with pytest.raises(FalsrError, match=r"WriteFile"):
        g.load_falsr_graph(path)
    assert not target.exists()


def test_py_func_is_refused(tmp_path: Path) -> None:
    path = rg.write_graph(tmp_path / "evil.pb", rg.falsr_like_graph_def(rg.plant_py_func))
    with pytest.raises(FalsrError, match=r"PyFunc"):
        g.load_falsr_graph(path)


def test_call_to_undefined_function_is_refused() -> None:
    graph_def = rg.falsr_like_graph_def()
    node = graph_def.node.add(name="sneaky", op="PartitionedCall")
    node.attr["f"].func.name = "not_in_library"
    assert any("not_in_library" in b for b in g.disallowed_ops(graph_def))


def test_not_a_graph(tmp_path: Path) -> None:
    text = tmp_path / "notes.pb"
    text.write_text("this is not a graph\n" * 10)
    with pytest.raises(FalsrError, match="not a frozen TensorFlow graph"):
        g.load_falsr_graph(text)
    empty = tmp_path / "empty.pb"
    empty.write_bytes(b"")
    with pytest.raises(FalsrError, match="not a frozen TensorFlow graph"):
        g.load_falsr_graph(empty)
    with pytest.raises(FalsrError, match="not found"):
        g.load_falsr_graph(tmp_path / "missing.pb")
    saved = tmp_path / "saved_model.pb"
    saved.write_bytes(b"\x08\x01")
    with pytest.raises(FalsrError, match="is a SavedModel, not a frozen graph"):
        g.load_falsr_graph(saved)


def test_non_falsr_graph_names_expected_and_found(tmp_path: Path) -> None:
    path = rg.write_graph(tmp_path / "other.pb", rg.other_graph_def())
    with pytest.raises(FalsrError) as info:
        g.load_falsr_graph(path)
    msg = str(info.value)
    assert "input_image_evaluate_y" in msg and "test_sr_evaluator_i1_b0_g/target" in msg  # expected
    assert "[image]" in msg and "sr_out" in msg  # found


def test_published_graphs_pass_the_allow_list(reference_dir: Path) -> None:
    for name in ("FALSR-A", "FALSR-B", "FALSR-C"):
        graph_def = g.read_graph_def(reference_dir / f"{name}.pb")
        assert g.disallowed_ops(graph_def) == []
        g.check_interface(graph_def, (g.INPUT_Y, g.INPUT_PBPR), g.OUTPUT)


def test_keras_export_passes_the_allow_list_and_runs() -> None:
    """What our exporter emits (tf.function of a Keras model, variables frozen) is accepted and runs,
    grouped convolutions included (Keras puts them in a library function)."""
    import keras
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    y = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(y)
    x = keras.layers.Add()([x, keras.layers.Conv2D(8, 3, padding="same", groups=2)(x)])
    x = keras.layers.Concatenate()([x, keras.layers.DepthwiseConv2D(3, padding="same")(x)])
    x = keras.layers.Conv2D(4, 1)(x)
    model = keras.Model(y, x)
    fn = tf.function(lambda t: tf.clip_by_value(tf.nn.depth_to_space(model(t), 2), 0.0, 1.0))
    concrete = fn.get_concrete_function(tf.TensorSpec([1, None, None, 1], tf.float32, name="y"))
    frozen = convert_variables_to_constants_v2(concrete)
    graph_def = frozen.graph.as_graph_def()
    assert g.disallowed_ops(graph_def) == []
    run = g.FrozenGraph(graph_def, [frozen.inputs[0].name], frozen.outputs[0].name, source="export")
    y = np.random.default_rng(1).random((1, 6, 5, 1), dtype=np.float32)
    np.testing.assert_allclose(run(y), frozen(tf.constant(y))[0].numpy(), atol=1e-5)
