"""One entry point: any supported path → `ImageSeries`.

Dispatch by what the path is: a folder → DICOM series; ``.nrrd``/``.nhdr`` → NRRD;
``.nii``/``.nii.gz`` → NIfTI; PNG/JPEG/TIFF/BMP → a 2D picture (or, with ``patches=True``, a
pathology tile cut into tissue patches); anything else is tried as DICOM (files without a
``.dcm`` suffix are common).
"""

from __future__ import annotations

from pathlib import Path

from medboard.errors import ImageInputError
from medboard.tools.imaging.guards import as_input_error, check_path
from medboard.tools.imaging.series import ImageSeries

PICTURE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})


def load_image(
    path: str | Path,
    *,
    series: str | None = None,
    series_id: str | None = None,
    patches: bool = False,
    modality: str | None = None,
) -> ImageSeries:
    """Load ``path``; ``series`` picks a SeriesInstanceUID in a mixed DICOM folder.

    Whatever a library raises on malformed bytes becomes one `ImageInputError` naming the file.
    """
    checked = check_path(path)  # NUL, missing, device/FIFO/socket, over max_image_bytes: refused here
    try:
        return _load(checked, series=series, series_id=series_id, patches=patches, modality=modality)
    except Exception as error:
        raise as_input_error(error, str(checked)) from None


def _load(
    path: Path,
    *,
    series: str | None,
    series_id: str | None,
    patches: bool,
    modality: str | None,
) -> ImageSeries:
    if path.is_dir():
        from medboard.tools.imaging.dicom import load_dicom_folder

        return load_dicom_folder(path, series=series, series_id=series_id)
    name = path.name.lower()
    if path.stat().st_size == 0:
        raise ImageInputError("empty file", source=str(path))
    if name.endswith((".nrrd", ".nhdr")):
        from medboard.tools.imaging.volumes import load_nrrd

        return load_nrrd(path, series_id=series_id, modality=modality)
    if name.endswith((".nii", ".nii.gz")):
        from medboard.tools.imaging.volumes import load_nifti

        return load_nifti(path, series_id=series_id, modality=modality)
    if path.suffix.lower() in PICTURE_SUFFIXES:
        if patches:
            from medboard.tools.imaging.patches import load_tile

            return load_tile(path, series_id=series_id)
        from medboard.tools.imaging.raster import load_picture

        return load_picture(path, series_id=series_id, modality=modality)
    from medboard.tools.imaging.dicom import load_dicom_file

    return load_dicom_file(path, series_id=series_id)
