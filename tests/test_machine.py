"""What figures record about the machine, read from /proc/cpuinfo."""

from __future__ import annotations

from falsr_cli import machine

ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx avx2 fma f16c avx512f avx512_bf16 sha_ni
"""


def test_cpu_generation_model_and_flags_from_cpuinfo(tmp_path, monkeypatch):
    (tmp_path / "cpuinfo").write_text(ZEN4)
    monkeypatch.setattr(machine, "CPUINFO", tmp_path / "cpuinfo")
    assert machine.cpu_model() == "AMD EPYC"  # not confused with "model\t: 17"
    assert machine.cpu_generation() == "family 25, model 17"
    assert machine.cpu_flags() == ["avx", "avx2", "avx512_bf16", "avx512f", "f16c", "fma"]
    assert machine.describe()["cpu_generation"] == "family 25, model 17"


def test_unknown_cpuinfo_gives_no_generation(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "CPUINFO", tmp_path / "absent")
    assert machine.cpu_generation() is None and machine.cpu_flags() == []
