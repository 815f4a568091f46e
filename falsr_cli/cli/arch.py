"""`falsr arch` and `falsr flops`: architectures as data, and their exact costs."""

from __future__ import annotations

import click


def _arch_table(summary: dict):
    from rich.table import Table

    from falsr_cli.cost.summary import human

    title = summary.get("name") or summary["hash"]
    table = Table(title=f"{title}: x{summary['scale']}, {summary['n']} cells, features {summary['features']}"
                  " (mult-adds at 480x480 LR)")
    for col, justify, no_wrap in (("node", "left", True), ("cell", "left", True), ("sources", "left", False),
                                  ("in ch", "right", True), ("params", "right", True),
                                  ("mult-adds", "right", True)):
        # Sources fold onto more lines in a narrow terminal rather than vanish.
        table.add_column(col, justify=justify, no_wrap=no_wrap, min_width=None if no_wrap else 9,
                         overflow="fold")
    for row in summary["nodes"]:
        table.add_row(row["node"], row["cell"], ",".join(row["sources"]), str(row["in_channels"]),
                      f"{row['params']:,}", human(row["mult_adds_480x480"]))
    return table


@click.group("arch")
def arch_group() -> None:
    """Inspect architectures: presets (FALSR-A/B/C), arch .json files, pareto.json#K, published .pb graphs.

    \b
    Examples:
      falsr arch show FALSR-A
      falsr arch show runs/demo/pareto.json#0 --input 720x1280
      falsr arch from-pb ./pretrained_model/FALSR-C.pb -o falsr-c.json
    """


@arch_group.command("show")
@click.argument("spec", metavar="NAME|FILE")
@click.option("--input", "input_hw", metavar="HxW", help="Also count mult-adds for this LR input size.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of a table.")
def arch_show_cmd(spec: str, input_hw: str | None, as_json: bool) -> None:
    """Cells, their sources, parameters and mult-adds (at 480x480 and at --input) of an architecture.

    \b
    SPEC is a preset (FALSR-A, FALSR-B, FALSR-C), an architecture .json, pareto.json#K or a .pb graph.
    \b
    Examples:
      falsr arch show FALSR-B
      falsr arch show arch.json --input 360x640
      falsr arch show FALSR-A --json > falsr-a-summary.json
    """
    import json

    from falsr_cli.console import console
    from falsr_cli.cost.summary import human, parse_hw, summarize
    from falsr_cli.space.architecture import load_architecture

    hw = parse_hw(input_hw) if input_hw else None
    if spec.lower().endswith(".pb"):
        from falsr_cli.models.pb_import import architecture_from_pb

        arch = architecture_from_pb(spec)
    else:
        arch = load_architecture(spec)
    summary = summarize(arch, hw, name=spec)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    console.print(_arch_table(summary))
    console.print(f"params {summary['params']:,} ({human(summary['params'])})")
    for size, macs in summary["mult_adds"].items():
        console.print(f"mult-adds at {size} (LR, x{arch.scale}): {macs:,} ({human(macs)})")
    console.print(f"receptive field: ±{summary['receptive_field_lr']} LR pixels")
    console.print(f"text: {summary['text']}")


@arch_group.command("from-pb")
@click.argument("pb", metavar="FILE.pb", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the architecture JSON here "
              "(default: print it).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
def arch_from_pb_cmd(pb: str, output: str | None, overwrite: bool) -> None:
    """Recover the architecture of a published FALSR graph from its nodes and topology.

    \b
    Examples:
      falsr arch from-pb ./pretrained_model/FALSR-A.pb -o falsr-a.json
      falsr arch from-pb FALSR-B.pb | jq .cells
    """
    from falsr_cli.console import err_console
    from falsr_cli.models.pb_import import architecture_from_pb
    from falsr_cli.outputs import claim_output, json_kind

    if output:
        claim_output(output, overwrite=overwrite, inputs=[pb], flag="--output",
                     same_kind=json_kind("format", "cells"))
    arch = architecture_from_pb(pb)
    if output:
        arch.save(output)
        err_console.print(f"{pb}: {arch.n} cells, x{arch.scale} → {output}")
    else:
        click.echo(arch.to_json(), nl=False)


@click.command("flops")
@click.argument("spec", metavar="NAME|FILE")
@click.option("--input", "input_hw", default="480x480", show_default=True, metavar="HxW",
              help="LR input size (HxW).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def flops_cmd(spec: str, input_hw: str, as_json: bool) -> None:
    """Mult-adds (multiply-accumulates) and parameters of an architecture for one LR input.

    \b
    Convs count at LR size except the last (HR); bias adds, ReLUs, adds and concats are not counted.
    \b
    Examples:
      falsr flops FALSR-A
      falsr flops arch.json --input 720x1280
      falsr flops runs/demo/pareto.json#2 --json
    """
    import json

    from falsr_cli.cost.cost_model import mult_adds, params
    from falsr_cli.cost.summary import human, hw_text, parse_hw
    from falsr_cli.space.architecture import load_architecture

    hw = parse_hw(input_hw)
    if spec.lower().endswith(".pb"):
        from falsr_cli.models.pb_import import architecture_from_pb

        arch = architecture_from_pb(spec)
    else:
        arch = load_architecture(spec)
    macs, n_params = mult_adds(arch, hw), params(arch)
    if as_json:
        click.echo(json.dumps({"name": spec, "input": hw_text(hw), "scale": arch.scale, "mult_adds": macs,
                               "params": n_params, "hash": arch.hash()}, indent=2))
        return
    click.echo(f"{spec}: {macs:,} mult-adds ({human(macs)}) at {hw_text(hw)} LR, x{arch.scale}; "
               f"{n_params:,} params ({human(n_params)})")
