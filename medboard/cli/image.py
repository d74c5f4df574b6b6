"""`medboard image`: see what the model will see.

* ``info PATH``: the series found (a mixed DICOM folder lists them all), modality, dimensions,
  spacing and slice order;
* ``frames PATH --recipe ct|mri|cxr|wsi|image --out DIR``: the exact 896-px frames as PNG and
  ``request.json``, the ordered request layout (text parts, frame files, evidence references);
* ``measure IMAGE --mask MASK``: lesion voxels, volume (mm³) and longest in-plane diameter (mm).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from medboard.cli.terminal import line  # record/header text printed inert

image_app = typer.Typer(
    name="image", help="Inspect images, write model-ready frames, measure masks.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(image_app, name="image")


@image_app.command("info")
def info_command(
    path_text: str = typer.Argument(
        ..., metavar="PATH", help="DICOM file or folder, NRRD/NIfTI volume, PNG/JPEG/TIFF."
    ),
    series: str | None = typer.Option(None, "--series", help="SeriesInstanceUID in a mixed folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Series found, modality, dimensions, spacing and slice order."""
    from medboard.tools.imaging.dicom import scan_folder
    from medboard.tools.imaging.load import load_image

    path = _arg_path(path_text)

    loaded = []
    if path.is_dir() and series is None:
        groups, _, _ = scan_folder(path)
        for uid in groups or [None]:  # none found: load_image raises the explanatory error
            loaded.append(load_image(path, series=uid))
    else:
        loaded.append(load_image(path, series=series))
    payload = []
    for item in loaded:
        entry = item.describe()
        entry["slice_order"] = [
            {"frame": i, "position_mm": p, "instance": n, "file": Path(f).name if f else None}
            for i, (p, n, f) in enumerate(
                zip(
                    item.positions or [None] * item.frame_count,
                    item.instance_numbers or [None] * item.frame_count,
                    item.files
                    if item.files and len(item.files) == item.frame_count
                    else [None] * item.frame_count,
                    strict=True,
                )
            )
        ]
        payload.append(entry)
    if as_json:
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(line(f"{len(payload)} series in {path}"))
    for entry in payload:
        spacing = entry["spacing_mm"]
        typer.echo(
            line(
                f"- {entry['id']}: {entry['modality'] or '?'} {entry['kind']}, "
                f"{entry['frame_count']} frame(s), "
                f"shape {'×'.join(str(s) for s in entry['shape'])}, units {entry['units']}, spacing "
                + ("×".join(f"{s:.4g}" for s in spacing) + " mm (frame, row, col)" if spacing else "unknown")
            )
        )
        for key in ("body_part", "study_uid", "series_uid", "study_date", "series_date", "description"):
            if entry[key]:
                typer.echo(line(f"    {key}: {entry[key]}"))
        order = entry["slice_order"]
        if len(order) > 1:
            shown = order if len(order) <= 12 else [*order[:6], None, *order[-5:]]
            typer.echo("    slice order (frame: position mm / instance / file):")
            for row in shown:
                if row is None:
                    typer.echo("      …")
                    continue
                pos = f"{row['position_mm']:.2f}" if row["position_mm"] is not None else "-"
                typer.echo(
                    line(f"      {row['frame']}: {pos} / {row['instance'] or '-'} / {row['file'] or '-'}")
                )
        for note in entry["notes"]:
            typer.echo(line(f"    note: {note}"))


@image_app.command("frames")
def frames_command(
    path_text: str = typer.Argument(
        ..., metavar="PATH", help="Image to prepare (the current image for longitudinal CXR)."
    ),
    out_text: str = typer.Option(..., "--out", help="Folder for the frame PNGs and request.json."),
    recipe: str | None = typer.Option(
        None, "--recipe", help="ct | mri | cxr | wsi | image (default: guessed)."
    ),
    series: str | None = typer.Option(None, "--series", help="SeriesInstanceUID in a mixed folder."),
    prior_text: str | None = typer.Option(
        None, "--prior", help="Prior image (cxr: longitudinal comparison)."
    ),
    max_frames: int | None = typer.Option(None, "--max-frames", help="Slices/patches limit (85 / 125)."),
    max_model_len: int | None = typer.Option(
        None, "--max-model-len", help="Check against this context length."
    ),
    max_images: int | None = typer.Option(
        None, "--max-images", help="Check against this images-per-prompt limit."
    ),
) -> None:
    """Write the exact frames and the request layout that would be sent to the model."""
    from medboard.errors import ImageInputError
    from medboard.tools.imaging.budget import EndpointLimits
    from medboard.tools.imaging.layouts import RECIPES, build_layout, default_recipe
    from medboard.tools.imaging.load import load_image

    if recipe is not None and recipe not in RECIPES:
        raise ImageInputError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    path, out = _arg_path(path_text), _arg_path(out_text)
    prior = _arg_path(prior_text) if prior_text is not None else None
    _check_out_folder(out)
    image = load_image(path, series=series, patches=recipe == "wsi")
    chosen = recipe or default_recipe(image)
    options: dict[str, object] = {}
    if max_model_len or max_images:
        defaults = EndpointLimits()
        options["limits"] = EndpointLimits(
            max_model_len=max_model_len or defaults.max_model_len,
            max_images=max_images or defaults.max_images,
        )
    if max_frames and chosen in ("ct", "mri"):
        options["max_slices"] = max_frames
    if max_frames and chosen == "wsi":
        options["max_patches"] = max_frames
    if prior is not None:
        if chosen != "cxr":
            raise ImageInputError("--prior is only used by the cxr recipe (longitudinal comparison)")
        options["prior"] = load_image(prior)
    layout = build_layout(chosen, image, **options)
    files = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for n, part in enumerate(layout.images):
            name = f"{n:03d}_{part.role}_frame{part.frame:04d}.png"
            part.image.save(out / name, format="PNG")
            files.append(name)
        description = layout.describe(files)
        description["series"] = image.describe()
        (out / "request.json").write_text(json.dumps(description, indent=2), encoding="utf-8")
    except OSError as error:
        raise ImageInputError(
            f"cannot write the frames ({error.strerror or type(error).__name__})", source=str(out)
        ) from None
    typer.echo(
        f"{chosen}: {len(files)} frame(s) of 896×896 and {len(layout.parts) - len(files)} text part(s) "
        f"→ {out / 'request.json'} (~{layout.prompt_tokens} prompt tokens)"
    )
    for note in dict.fromkeys([*image.notes, *layout.notes]):
        typer.echo(line(f"note: {note}"))


def _arg_path(text: str) -> Path:
    """A path argument; a NUL in it is one clean line (click's own Path type prints a usage box)."""
    from medboard.errors import ImageInputError
    from medboard.safeio import reject_nul

    return Path(reject_nul(text, error=ImageInputError))


def _check_out_folder(out: Path) -> None:
    """``--out`` must be (or become) a writable folder; checked before any image is decoded."""
    import os

    from medboard.errors import ImageInputError
    from medboard.safeio import reject_nul

    name = reject_nul(out, error=ImageInputError)
    if out.exists() and not out.is_dir():
        raise ImageInputError("--out exists and is not a folder", source=name)
    parent = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ImageInputError(
            f"--out cannot be created or written ({parent} is not a writable folder)", source=name
        )


@image_app.command("measure")
def measure_command(
    image_text: str = typer.Argument(
        ..., metavar="IMAGE", help="The image volume (gives the reference geometry)."
    ),
    mask_text: str = typer.Option(
        ..., "--mask", help="Label mask: NRRD/NIfTI on the same grid, or a DICOM SEG."
    ),
    label: int | None = typer.Option(None, "--label", help="Label value to measure (default: any non-zero)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Lesion voxel count, volume in mm³ and longest in-plane diameter in mm."""
    from medboard.tools.imaging.load import load_image
    from medboard.tools.imaging.masks import measure_mask_file

    image, mask = _arg_path(image_text), _arg_path(mask_text)
    volume = load_image(image)
    result = measure_mask_file(volume, mask, label=label)
    payload = {
        "voxels": result.voxels,
        "volume_mm3": round(result.volume_mm3, 3),
        "max_inplane_diameter_mm": round(result.max_inplane_diameter_mm, 3),
        "diameter_frame": result.diameter_frame,
        "spacing_mm": list(result.spacing_mm),
        "label": label,
        "notes": list(result.notes),
    }
    if as_json:
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(f"voxels: {payload['voxels']}")
    typer.echo(f"volume_mm3: {payload['volume_mm3']}")
    typer.echo(
        f"max_inplane_diameter_mm: {payload['max_inplane_diameter_mm']} (frame {result.diameter_frame})"
    )
    for note in [*volume.notes, *result.notes]:
        typer.echo(f"note: {note}")
