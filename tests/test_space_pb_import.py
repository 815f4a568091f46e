"""Import of the published FALSR graphs: architecture from the graph, weights, identical outputs."""

from __future__ import annotations

import os

import numpy as np
import pytest

from falsr_cli.errors import FalsrError
from falsr_cli.space.architecture import PRESETS

FULL = bool(os.environ.get("FALSR_SPACE_FULL"))


@pytest.mark.parametrize("name", ["FALSR-A", "FALSR-B", "FALSR-C"])
def test_imported_model_reproduces_the_graph(name, reference_dir, benchmark_mirror):
    from PIL import Image

    from falsr_cli.data.color import chroma_for_upscale, rgb_to_ypbpr
    from falsr_cli.models.builder import build_falsr_interface
    from falsr_cli.models.graphdef import load_falsr_graph
    from falsr_cli.models.pb_import import import_pb

    pb = reference_dir / f"{name}.pb"
    arch, luma = import_pb(pb)
    # The architecture read off the graph is the preset (which was written from the table).
    assert arch == PRESETS[name]
    rgb = build_falsr_interface(luma)
    graph = load_falsr_graph(pb)

    rng = np.random.default_rng(0)
    y = rng.random((1, 19, 23, 1), dtype=np.float32)
    pbpr = rng.random((1, 38, 46, 2), dtype=np.float32) - 0.5
    assert np.abs(rgb([y, pbpr]).numpy() - graph(y, pbpr)).max() <= 1e-5

    lr = np.asarray(Image.open(benchmark_mirror / "Set5" / "img_003_SRF_2_LR.png").convert("RGB"))
    if not FULL:
        lr = lr[40:88, 30:78]  # a 48×48 crop keeps the default suite fast; FALSR_SPACE_FULL=1: whole image
    y = rgb_to_ypbpr(lr)[None, :, :, :1].astype(np.float32)
    pbpr = chroma_for_upscale(lr, 2)[None].astype(np.float32)
    ours, theirs = rgb([y, pbpr]).numpy(), graph(y, pbpr)
    assert ours.shape == theirs.shape == (1, 2 * lr.shape[0], 2 * lr.shape[1], 3)
    assert np.abs(ours - theirs).max() <= 1e-5


def test_architecture_is_read_from_the_graph_not_a_table(reference_dir):
    """A renamed root scope still imports; removing one link changes the recovered sources."""
    import tensorflow as tf

    from falsr_cli.models.pb_import import architecture_from_graph_def

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString((reference_dir / "FALSR-B.pb").read_bytes())
    for node in gd.node:
        node.name = node.name.replace("test_sr_evaluator_i1_b0_g/", "other_root/")
        for k, inp in enumerate(node.input):
            node.input[k] = inp.replace("test_sr_evaluator_i1_b0_g/", "other_root/")
    assert architecture_from_graph_def(gd) == PRESETS["FALSR-B"]
    # Drop FE from the concatenation feeding CB7 (graph cell 6): the recovered sources follow.
    concat = next(n for n in gd.node if n.name == "other_root/concat_layer_4")
    del concat.input[0]
    arch = architecture_from_graph_def(gd)
    assert arch.sources(7) == [1, 2, 6] and arch.cells == PRESETS["FALSR-B"].cells


def test_refuses_graphs_with_file_ops_and_non_graphs(tmp_path, reference_dir):
    import tensorflow as tf

    from falsr_cli.models.pb_import import import_pb

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString((reference_dir / "FALSR-C.pb").read_bytes())
    evil = gd.node.add()
    evil.name, evil.op = "leak", "ReadFile"
    evil.input.append("input_image_evaluate_y")
    (tmp_path / "evil.pb").write_bytes(gd.SerializeToString())
    with pytest.raises(FalsrError, match="ReadFile"):
        import_pb(tmp_path / "evil.pb")
    (tmp_path / "junk.pb").write_bytes(b"\x00not a graph at all" * 10)
    with pytest.raises(FalsrError):
        import_pb(tmp_path / "junk.pb")


def test_foreign_graphs_are_a_falsr_error():
    """A graph of another layout (here a tiny Keras-style one) is refused with a FalsrError."""
    import tensorflow as tf

    from falsr_cli.models.pb_import import architecture_from_graph_def

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (None, None, None, 1), name="x")
        k = tf.constant(np.ones((3, 3, 1, 4), np.float32))
        y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, k, 1, "SAME"), tf.zeros(4)))
        tf.nn.depth_to_space(y, 2, name="out")
    with pytest.raises(FalsrError, match="FALSR layout"):
        architecture_from_graph_def(graph.as_graph_def())
    with pytest.raises(FalsrError):
        architecture_from_graph_def(tf.compat.v1.GraphDef())
