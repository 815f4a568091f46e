"""Bounded work (issue 23, class 5): a graph is sized before it runs (computed shapes too), a stalled
download stops with an error, an input too big for memory is refused up front. Each: one line, exit 1."""

from __future__ import annotations

import http.server
import threading
import time

import pytest
from bad_input import one_line_error, snapshot
from click.testing import CliRunner

from falsr_cli.cli import main
from falsr_cli.errors import FalsrError


def _bomb(kind: str):
    """A few-KB luma graph (`--interface y`) whose one op takes gigabytes for an ordinary input."""
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        y = tf.compat.v1.placeholder(tf.float32, [None, None, None, 1], name="input_image_evaluate_y")
        if kind == "fill":  # shape computed from the input's: no constant to check
            big = tf.fill(tf.shape(y)[1:3] * 50000, 0.5, name="huge")
            extra = tf.slice(big, [0, 0], [1, 1])[0, 0]
        elif kind == "pad":
            big = tf.pad(y, [[0, 0], [60000, 60000], [60000, 60000], [0, 0]], name="huge")
            extra = big[0, 0, 0, 0]
        elif kind == "double":  # 31 doublings of one float: 8 GiB at the end
            x = tf.constant([1.0])
            for i in range(31):
                x = tf.concat([x, x], 0, name=f"twice_{i}")
            extra = x[0]
        else:  # the pixel values decide the size: nothing can be known before it runs
            n = tf.cast(tf.reshape(tf.slice(y, [0, 0, 0, 0], [1, 1, 1, 1]), [1]) * 1e9, tf.int32)
            extra = tf.slice(tf.fill(n, 0.5, name="huge"), [0], [1])[0]
        up = tf.nn.depth_to_space(tf.concat([y, y, y, y], -1), 2)
        tf.identity(up + extra, name="sr_y")
    return g.as_graph_def()


@pytest.mark.parametrize("kind,op,message", [
    ("fill", "Fill node huge", r"makes a tensor of [\d.]+ GiB"),
    ("pad", "Pad node huge", r"makes a tensor of [\d.]+ GiB"),
    ("double", "ConcatV2 node twice_28", r"makes a tensor of 2\.00 GiB"),  # the first over 1 GiB
    ("values", "Fill node huge", r"cannot be known before it runs"),
])
def test_a_graph_that_would_allocate_gigabytes_is_refused_naming_the_op(tmp_path, kind, op, message):
    import re

    graph = _bomb(kind)
    assert graph.ByteSize() < 8192
    (tmp_path / "g.pb").write_bytes(graph.SerializeToString())
    before = snapshot(tmp_path)
    started = time.perf_counter()
    result = CliRunner().invoke(main, ["evaluate", "--model", str(tmp_path / "g.pb"), "--dataset", "samples",
                                       "--engine", "tf", "--data-dir", str(tmp_path / "data")])
    line = one_line_error(result)
    assert f"refusing to run {tmp_path / 'g.pb'}: {op}" in line and re.search(message, line), line
    assert time.perf_counter() - started < 60  # refused, not run until memory is gone
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("data/")} == before


def test_tensorflow_errors_keep_their_reason():
    from falsr_cli.models.graphdef import op_error_text

    class E(Exception):
        message = ("Graph execution error:\n\nDetected at node huge defined at (most recent call last):\n"
                   "  File x.py\nOOM when allocating tensor with shape[100000,100000]\n")

    assert op_error_text(E()).startswith("OOM when allocating tensor with shape[100000,100000]")


class _Trickle(http.server.BaseHTTPRequestHandler):
    """A mirror that promises a file and sends one byte every 0.2 s."""

    def do_GET(self):  # noqa: N802 (the http.server API)
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


def test_a_stalled_download_stops_with_an_error(tmp_path, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("FALSR_DOWNLOAD_STALL_SECONDS", "1")
        started = time.perf_counter()
        result = CliRunner().invoke(main, ["dataset", "download", "Set5", "--data-dir", str(tmp_path),
                                           "--mirror", f"http://127.0.0.1:{server.server_port}"])
        assert result.exit_code == 1 and "Traceback" not in result.stderr, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
        line, = errors  # (the download's progress bar is drawn above it)
        assert "stalled (" in line and "bytes in 1 s); try again later" in line, line
        assert time.perf_counter() - started < 20
        monkeypatch.setenv("FALSR_DOWNLOAD_STALL_SECONDS", "soon")
        line = one_line_error(CliRunner().invoke(main, ["dataset", "download", "Set5", "--data-dir",
                                                         str(tmp_path), "--mirror", "http://127.0.0.1:9"]))
        assert "FALSR_DOWNLOAD_STALL_SECONDS='soon' is not a number of seconds" in line
    finally:
        server.shutdown()


def test_an_input_too_big_for_memory_is_refused_before_anything_runs(tmp_path):
    from falsr_cli.models.latency import check_memory
    from falsr_cli.space.architecture import load_architecture

    arch = load_architecture("FALSR-C")
    check_memory(arch, (240, 240), "tf", available=8 * 2**30)
    with pytest.raises(FalsrError, match=r"--input 4096x4096 needs about [\d.]+ GiB .* 1\.0 GiB available; "
                                         r"use \d+x\d+ or smaller"):
        check_memory(arch, (4096, 4096), "xnnpack", available=2**30)
    result = CliRunner().invoke(main, ["latency", "FALSR-C", "--input", "8192x8192", "--runtime", "xnnpack",
                                       "--data-dir", str(tmp_path)])
    assert "--input 8192x8192 needs about" in one_line_error(result)
    result = CliRunner().invoke(main, ["search", "--evaluator", "proxy", "--latency-max", "40ms",
                                       "--latency-input", "99999x1", "--out", str(tmp_path / "s")])
    assert "--latency-input: '99999x1' is not HxW" in one_line_error(result)
