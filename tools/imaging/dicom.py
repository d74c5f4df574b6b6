"""DICOM files and series folders → `ImageSeries`.

Why it is shaped like this:

* Headers first, pixels later. A folder is scanned with ``stop_before_pixels=True``; slices are
  grouped by SeriesInstanceUID and sorted by ImagePositionPatient projected on the slice normal
  (then InstanceNumber). Pixel data is decoded only for the frames a recipe samples, so memory
  does not grow with the number of slices.
* Stored values become physical ones per slice (RescaleSlope/Intercept differ between slices on
  some scanners): CT → float32 HU; other cross-sectional modalities → float32 "raw".
* Projection images (CR, DX, MG, ...) and colour images are display images: modality LUT, then the
  header's VOI LUT or window, then 8-bit, MONOCHROME1 inverted so that air is dark.
* Compressed transfer syntaxes are decoded by pydicom's pixel-data plugins; when none is installed
  the error names the transfer syntax and the plugins that would decode it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medboard.errors import ImageInputError
from medboard.limits import limits
from medboard.textsafety import neutralize_line
from medboard.tools.imaging.deflated import dcmread
from medboard.tools.imaging.guards import check_declared, checked_spacing, error_text
from medboard.tools.imaging.series import ImageSeries, Units, series_key

log = logging.getLogger(__name__)

#: Modalities whose stored values are physical quantities read as a volume (not display images).
VOLUME_MODALITIES = frozenset({"CT", "MR", "PT", "NM"})

_HEADER_ERRORS = (OSError, ValueError, EOFError, KeyError, AttributeError, TypeError, IndexError)


@dataclass(frozen=True)
class SliceHeader:
    """What sorting and grouping need from one DICOM file, without its pixel data."""

    path: str
    series_uid: str | None
    study_uid: str | None
    instance_number: int | None
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    frames: int
    modality: str | None
    description: str | None


#: Deflated Explicit VR Little Endian: the whole dataset is zlib-compressed, so frames cannot be
#: read from the file one by one (pydicom's path-based decoder does not inflate).
DEFLATED = "1.2.840.10008.1.2.1.99"


#: `warnings.catch_warnings` swaps process-wide state: frames are decoded in worker threads (one
#: per image of a case), so the swaps are serialised.
_QUIET_LOCK = threading.RLock()


@contextlib.contextmanager
def _quiet(notes: list[str] | None = None) -> Iterator[None]:
    """pydicom warns and logs (on stderr) the quirks it reads past ("Expected explicit VR, but found
    implicit VR"); they become notes of the series (or DEBUG logs), not noise around a CLI line."""
    with _QUIET_LOCK, _captured() as messages:
        yield
    for message in messages:
        text = message.splitlines()[0][:200] if message else ""
        if not text:
            continue
        log.debug("pydicom: %s", text)
        if notes is not None and text not in notes:
            notes.append(text)


@contextlib.contextmanager
def _captured() -> Iterator[list[str]]:
    """pydicom's warnings and pydicom-logger records raised inside the block, in order."""
    messages: list[str] = []
    logged: list[str] = []

    def keep(record: logging.LogRecord) -> bool:
        logged.append(record.getMessage())
        return False

    pydicom_log = logging.getLogger("pydicom")
    pydicom_log.addFilter(keep)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
    finally:
        pydicom_log.removeFilter(keep)
    messages.extend(dict.fromkeys([*logged, *(str(w.message) for w in caught)]))


def _converted(ds: Any) -> Any:
    """Convert every raw element now (pydicom converts lazily, on first access), so that value
    warnings ("Invalid value for VR IS") surface inside `_quiet`, not later in a CLI's output."""
    for tag in list(ds.keys()):
        try:
            element = ds[tag]
        except Exception:  # a value that does not convert stays as read; only its use can fail
            continue
        if element.VR == "SQ" and element.value:
            for item in element.value:
                _converted(item)
    return ds


def _with_transfer_syntax(ds: Any) -> Any:
    """A dataset read without File Meta Information (no preamble, no 'DICM') gets the transfer
    syntax it was actually encoded in, which pydicom needs to decode its (native) pixels."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return ds
    implicit, little = getattr(ds, "original_encoding", (True, True))
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    )
    return ds


def _read_forced(path: Path | str, *, stop_before_pixels: bool) -> Any | None:
    """A DICOM dataset stored without its 128-byte preamble and File Meta header (ACR-NEMA style,
    or written by a tool that skipped them), or None when the bytes do not hold an image."""
    try:
        ds = dcmread(path, force=True, stop_before_pixels=stop_before_pixels)
    except Exception:  # force=True on arbitrary bytes fails in arbitrary ways
        return None
    try:
        if "Rows" not in ds or "Columns" not in ds or _int(ds.get("Rows")) is None:
            return None
        return _with_transfer_syntax(_converted(ds))
    except Exception:  # garbage elements read under force=True
        return None


def _read_header(path: Path, notes: list[str] | None = None) -> Any:
    from pydicom.errors import InvalidDicomError

    try:
        with _quiet(notes):
            return _converted(dcmread(path, stop_before_pixels=True))
    except InvalidDicomError as error:
        with _quiet(notes):
            forced = _read_forced(path, stop_before_pixels=True)
        if forced is None:
            raise ImageInputError(
                "not a DICOM file (no DICOM preamble/header, and no image dataset without one)",
                source=str(path),
            ) from error
        if notes is not None:
            notes.append("no DICOM File Meta header (read as a bare dataset)")
        return forced
    except _HEADER_ERRORS as error:
        raise ImageInputError(
            f"unreadable or truncated DICOM header ({error_text(error)})", source=str(path)
        ) from error


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError, OverflowError):
        return None
    return out if len(out) == n and all(np.isfinite(out)) else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def header_of(ds: Any, path: str) -> SliceHeader:
    return SliceHeader(
        path=path,
        series_uid=str(ds.SeriesInstanceUID) if "SeriesInstanceUID" in ds else None,
        study_uid=str(ds.StudyInstanceUID) if "StudyInstanceUID" in ds else None,
        instance_number=_int(ds.get("InstanceNumber")),
        position=_floats(ds.get("ImagePositionPatient"), 3),  # type: ignore[arg-type]
        orientation=_floats(ds.get("ImageOrientationPatient"), 6),
        frames=_int(ds.get("NumberOfFrames")) or 1,
        modality=str(ds.get("Modality")) if ds.get("Modality") else None,
        description=str(ds.get("SeriesDescription")) if ds.get("SeriesDescription") else None,
    )


def slice_normal(orientation: Sequence[float]) -> np.ndarray:
    """Unit normal of the image plane: row direction × column direction."""
    row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:6], float)
    normal = np.cross(row, col)
    norm = np.linalg.norm(normal)
    return normal / norm if norm else np.array([0.0, 0.0, 1.0])


def sort_slices(headers: Sequence[SliceHeader]) -> tuple[list[SliceHeader], list[float] | None]:
    """Sort by position along the slice normal, then InstanceNumber (file name last resort).

    Returns the sorted headers and their positions along the normal (None when any slice lacks
    ImagePositionPatient/ImageOrientationPatient: then InstanceNumber alone orders them).
    """
    oriented = [h for h in headers if h.orientation is not None]
    if headers and len(oriented) == len(headers) and all(h.position is not None for h in headers):
        normal = slice_normal(oriented[0].orientation)  # type: ignore[arg-type]
        keyed = [(float(np.dot(normal, h.position)), h) for h in headers]  # type: ignore[arg-type]
        keyed.sort(key=lambda kv: (kv[0], kv[1].instance_number or 0, kv[1].path))
        return [h for _, h in keyed], [p for p, _ in keyed]
    ordered = sorted(headers, key=lambda h: (h.instance_number is None, h.instance_number or 0, h.path))
    return ordered, None


def scan_folder(folder: Path) -> tuple[dict[str, list[SliceHeader]], dict[str, Any], list[str]]:
    """Headers of every image-bearing DICOM file under ``folder``, grouped by SeriesInstanceUID.

    Returns (groups, one representative header dataset per group, skipped files with reasons).
    Non-DICOM files and DICOM objects without pixels (SR, presentation states) are skipped.
    """
    from pydicom.errors import InvalidDicomError

    groups: dict[str, list[SliceHeader]] = {}
    first: dict[str, Any] = {}
    skipped: list[str] = []
    biggest = limits().max_image_bytes
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.stat().st_size > biggest:  # not read at all: a stray disk image, a video, a bomb
            skipped.append(f"{path.name}: larger than max_image_bytes={biggest}")
            continue
        try:
            with _quiet():
                ds = _converted(dcmread(path, stop_before_pixels=True))
        except InvalidDicomError:
            with _quiet():
                ds = _read_forced(path, stop_before_pixels=True)
            if ds is None:
                skipped.append(f"{path.name}: not DICOM")
                continue
        except _HEADER_ERRORS as error:
            skipped.append(f"{path.name}: unreadable ({type(error).__name__})")
            continue
        if "Rows" not in ds or "Columns" not in ds:
            skipped.append(f"{path.name}: no image (SOP class {ds.get('SOPClassUID', '?')})")
            continue
        header = header_of(ds, str(path))
        key = header.series_uid or f"no-series-uid:{path.parent.name}"
        groups.setdefault(key, []).append(header)
        first.setdefault(key, ds)
    return groups, first, skipped


def _is_display_image(ds: Any) -> bool:
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    modality = str(ds.get("Modality", "")).upper()
    return not photometric.startswith("MONOCHROME") or modality not in VOLUME_MODALITIES


def _decode(path: str, index: int | None = None) -> tuple[np.ndarray, Any]:
    """Stored values of one frame (or the only frame) and the file's non-pixel elements.

    Reads from the file, so a multi-frame object decodes just the requested frame.
    """
    from pydicom import Dataset
    from pydicom.pixels import pixel_array

    header = Dataset()
    try:
        with _quiet():
            return pixel_array(path, index=index, ds_out=header), _converted(header)
    except (RuntimeError, NotImplementedError) as error:
        name = _transfer_syntax_name(header, path)
        missing = "; ".join(line.strip() for line in str(error).splitlines()[1:] if line.strip())
        raise ImageInputError(
            f"cannot decode {name} pixel data: no usable pydicom pixel-data plugin"
            + (f" ({neutralize_line(missing)[:200]})" if missing else f" ({error_text(error)})"),
            source=path,
        ) from error
    except Exception as error:  # truncated or corrupt pixel data surfaces as many error types
        whole = _decode_whole_file(path, index)
        if whole is not None:
            return whole
        raise ImageInputError(
            f"pixel data unreadable or truncated ({error_text(error)})", source=path
        ) from error


def _transfer_syntax_name(header: Any, path: str) -> str:
    ts = getattr(getattr(header, "file_meta", None), "TransferSyntaxUID", None)
    if ts is None:
        try:
            with _quiet():
                ts = dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
        except Exception:
            ts = None
    return str(getattr(ts, "name", None) or "this transfer syntax")


def _decode_whole_file(path: str, index: int | None) -> tuple[np.ndarray, Any] | None:
    """Frames of a file the frame-by-frame reader cannot serve: a deflated dataset, or one without
    File Meta header. Reads the whole file (these are rare, and usually small); None otherwise."""
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import pixel_array

    ds: Any
    try:
        with _quiet():
            ds = dcmread(path)
    except InvalidDicomError:
        with _quiet():
            ds = _read_forced(path, stop_before_pixels=False)
        if ds is None or "PixelData" not in ds:
            return None
    except Exception:
        return None
    else:
        if str(getattr(ds.file_meta, "TransferSyntaxUID", "")) != DEFLATED:
            return None
    try:
        with _quiet():
            return pixel_array(ds, index=index), _converted(ds)
    except Exception:
        return None


def _transfer_syntax_check(ds: Any, path: str) -> None:
    """Fail before any pixel is read when no installed plugin can decode the transfer syntax."""
    from pydicom.pixels import get_decoder

    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if ts is None or not ts.is_compressed:
        return
    try:
        decoder = get_decoder(ts)
    except NotImplementedError as error:
        raise ImageInputError(f"no pydicom decoder exists for {ts.name}", source=path) from error
    if not decoder.is_available:
        needs = "; ".join(decoder.missing_dependencies)
        raise ImageInputError(
            f"cannot decode {ts.name} pixel data: no pydicom pixel-data plugin installed "
            f"(needs one of: {needs})",
            source=path,
        )


def frame_group_item(ds: Any, frame: int, name: str) -> Any:
    """First item of a functional-group macro (``name``) for one frame of an enhanced object:
    the per-frame group first, the shared group as fallback; None when neither has it."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = ds.get("SharedFunctionalGroupsSequence")
    for groups, i in ((per_frame, frame), (shared, 0)):
        sequence = groups[i].get(name) if groups and len(groups) > i else None
        if sequence:
            return sequence[0]
    return None


def _element(ds: Any, keyword: str, macro: str, frame: int = 0) -> Any:
    """A top-level element, or the same element inside an enhanced object's functional groups."""
    if keyword in ds:
        return ds.get(keyword)
    item = frame_group_item(ds, frame, macro)
    return item.get(keyword) if item is not None else None


def to_physical(arr: np.ndarray, ds: Any, frame: int = 0, source: str | None = None) -> np.ndarray:
    """Stored values → physical (HU for CT) with the file's/frame's slope and intercept, float32.

    Enhanced multi-frame objects keep them in the Pixel Value Transformation functional group.
    """
    try:
        slope = float(_element(ds, "RescaleSlope", "PixelValueTransformationSequence", frame) or 1)
        intercept = float(_element(ds, "RescaleIntercept", "PixelValueTransformationSequence", frame) or 0)
    except (TypeError, ValueError, OverflowError):
        slope = intercept = float("nan")
    if not (np.isfinite(slope) and np.isfinite(intercept)) or abs(slope) > 1e6 or abs(intercept) > 1e9:
        raise ImageInputError(
            "RescaleSlope/RescaleIntercept is not a usable number (NaN, infinite or absurd): "
            "stored values cannot be turned into physical ones",
            source=source,
        )
    out = arr.astype(np.float32)
    if slope != 1.0:
        out *= np.float32(slope)
    if intercept != 0.0:
        out += np.float32(intercept)
    return out


def to_display(arr: np.ndarray, ds: Any, frame: int = 0) -> np.ndarray:
    """A projection/colour image as 8-bit: modality LUT, VOI LUT/window, MONOCHROME1 inverted."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric == "PALETTE COLOR" and arr.ndim == 2:
        return _palette_rgb(arr, ds)
    if arr.ndim == 3 and arr.shape[-1] == 3:  # colour (pydicom already converted YBR → RGB)
        if arr.dtype == np.uint8:
            return arr
        return _minmax_u8(arr.astype(np.float32))
    values = apply_modality_lut(arr, ds)
    has_voi = any(k in ds for k in ("VOILUTSequence", "WindowCenter"))
    if has_voi:
        values = apply_voi_lut(values, ds, index=frame)
    out = _minmax_u8(np.asarray(values, dtype=np.float32))
    if photometric == "MONOCHROME1":
        out = 255 - out
    return out


def _palette_rgb(arr: np.ndarray, ds: Any) -> np.ndarray:
    """PALETTE COLOR stores indices into the header's red/green/blue lookup tables: the image is
    the looked-up RGB (8- or 16-bit entries), not the indices."""
    from pydicom.pixels import apply_color_lut

    try:
        rgb = apply_color_lut(arr, ds)
    except Exception as error:  # missing or malformed LUT elements
        raise ImageInputError(
            f"PALETTE COLOR image without a usable colour lookup table ({error_text(error)})",
            source=str(getattr(ds, "filename", "") or "") or None,
        ) from error
    if rgb.dtype.itemsize > 1 and int(rgb.max(initial=0)) > 255:  # 16-bit entries (some 8-bit
        return np.round(rgb.astype(np.float32) * (255.0 / 65535.0)).astype(np.uint8)  # LUTs say 16)
    return rgb.astype(np.uint8)


def _minmax_u8(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(values.shape, np.uint8)
    return np.round((values - lo) * (255.0 / (hi - lo))).astype(np.uint8)


#: Slices closer than this (mm) along the normal are at the same position.
SAME_POSITION_MM = 1e-3


def _spacing(ds: Any, positions: list[float] | None, notes: list[str]) -> tuple[float, float, float] | None:
    """(between frames, row, col) mm, or None when it cannot be known; every doubt goes to ``notes``.

    Slice spacing comes from the sorted positions when there are several: duplicate positions (two
    slices at one place) make the series something other than one volume, so no spacing is given
    rather than inventing one from SliceThickness. Non-finite, zero or negative values are unusable.
    """
    pixel = None
    for key in ("PixelSpacing", "ImagerPixelSpacing"):
        raw = _element(ds, key, "PixelMeasuresSequence")
        candidate = _floats(raw, 2)
        if candidate and min(candidate) > 0:  # some CR files carry "0\\0"
            pixel = candidate
            break
        if raw is not None and not (candidate and max(candidate) == 0):
            notes.append(f"{key} in the header is not usable (NaN, infinite, negative or malformed)")
    between: float | None = None
    if positions and len(positions) > 1:
        gaps = np.diff(positions)
        same = int(np.count_nonzero(np.abs(gaps) < SAME_POSITION_MM))
        if same:
            notes.append(
                f"{same + 1 if same == len(gaps) else same} slice(s) share a position with another "
                f"({len(set(np.round(positions, 3)))} distinct positions for {len(positions)} slices): not "
                "one volume (repeated or mixed acquisitions?); slice spacing unknown, no measurement in mm"
            )
            return None
        between = float(np.median(gaps))
    else:
        for key in ("SpacingBetweenSlices", "SliceThickness"):
            value = _floats([_element(ds, key, "PixelMeasuresSequence")], 1)
            if value and value[0] > 0:
                between = value[0]
                break
    if pixel is None and between is None:
        return None
    if pixel is None:
        notes.append("no usable pixel spacing in the header: 1 × 1 mm assumed")
    return checked_spacing((between or 1.0, *(pixel or (1.0, 1.0))), notes, what="DICOM spacing")


def _date(ds: Any, *keys: str) -> str | None:
    for key in keys:
        value = ds.get(key)
        if value:
            text = str(value)
            return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text
    return None


def _series_from(
    ds: Any,
    *,
    source: str,
    files: list[str] | None,
    shape: tuple[int, ...],
    units: Units,
    reader: Any,
    positions: list[float] | None,
    instance_numbers: list[int | None] | None,
    series_id: str | None,
) -> ImageSeries:
    uid = str(ds.SeriesInstanceUID) if "SeriesInstanceUID" in ds else None
    notes: list[str] = []
    spacing = _spacing(ds, positions, notes)
    return ImageSeries(
        id=series_id or series_key(uid or Path(source).stem),
        source=source,
        kind="image" if units == "uint8" else "volume",
        units=units,
        shape=shape,
        read_frames=reader,
        modality=str(ds.get("Modality")) if ds.get("Modality") else None,
        body_part=str(ds.get("BodyPartExamined")) if ds.get("BodyPartExamined") else None,
        study_uid=str(ds.StudyInstanceUID) if "StudyInstanceUID" in ds else None,
        series_uid=uid,
        study_date=_date(ds, "StudyDate"),
        series_date=_date(ds, "SeriesDate", "AcquisitionDate", "ContentDate"),
        description=str(ds.get("SeriesDescription")) if ds.get("SeriesDescription") else None,
        spacing=spacing,
        orientation=_floats(_element(ds, "ImageOrientationPatient", "PlaneOrientationSequence"), 6),
        positions=positions,
        instance_numbers=instance_numbers,
        files=files,
        notes=notes,
    )


def _frame_shape(ds: Any) -> tuple[int, ...]:
    rows, cols = _int(ds.get("Rows")) or 0, _int(ds.get("Columns")) or 0
    colour = int(ds.get("SamplesPerPixel", 1) or 1) == 3 or (
        str(ds.get("PhotometricInterpretation", "")) == "PALETTE COLOR"
    )
    return (rows, cols, 3) if colour else (rows, cols)


def load_dicom_file(path: str | Path, *, series_id: str | None = None) -> ImageSeries:
    """One DICOM file: a single image, or every frame of a multi-frame object."""
    path = Path(path)
    notes: list[str] = []
    ds = _read_header(path, notes)
    if "Rows" not in ds or "Columns" not in ds:
        raise ImageInputError(
            "no image in this DICOM object (no Rows/Columns: a truncated header or a non-image object, "
            f"SOP class {ds.get('SOPClassUID', 'unknown')})",
            source=str(path),
        )
    _transfer_syntax_check(ds, str(path))
    n_frames = _int(ds.get("NumberOfFrames")) or 1
    frame_shape = _frame_shape(ds)
    check_declared((n_frames, *frame_shape), 4, str(path), whole=False)
    display = _is_display_image(ds)
    units: Units = "uint8" if display else ("HU" if str(ds.get("Modality")) == "CT" else "raw")
    order, positions = _multiframe_order(ds, n_frames)

    def read(indices: Sequence[int]) -> np.ndarray:
        out = []
        for i in indices:
            stored, _ = _decode(str(path), index=order[i] if n_frames > 1 else None)
            out.append(
                to_display(stored, ds, order[i]) if display else to_physical(stored, ds, order[i], str(path))
            )
        return np.stack(out)

    result = _series_from(
        ds,
        source=str(path),
        files=[str(path)],
        shape=(n_frames, *frame_shape),
        units=units,
        reader=read,
        positions=positions,
        instance_numbers=None,
        series_id=series_id,
    )
    result.notes.extend(notes)
    return result


def _multiframe_order(ds: Any, n_frames: int) -> tuple[list[int], list[float] | None]:
    """Frame order of an enhanced multi-frame object by per-frame plane position, if present."""
    groups = ds.get("PerFrameFunctionalGroupsSequence")
    if n_frames <= 1 or not groups or len(groups) != n_frames:
        return list(range(n_frames)), None
    orientation = _floats(_element(ds, "ImageOrientationPatient", "PlaneOrientationSequence"), 6)
    planes = [frame_group_item(ds, i, "PlanePositionSequence") for i in range(n_frames)]
    positions = [_floats(p.get("ImagePositionPatient"), 3) if p is not None else None for p in planes]
    if orientation is None or any(p is None for p in positions):
        return list(range(n_frames)), None
    normal = slice_normal(orientation)
    along = [float(np.dot(normal, p)) for p in positions]  # type: ignore[arg-type]
    order = sorted(range(n_frames), key=lambda i: (along[i], i))
    return order, [along[i] for i in order]


def describe_series_choices(groups: dict[str, list[SliceHeader]]) -> str:
    lines = []
    for uid, headers in groups.items():
        h = headers[0]
        lines.append(
            f"{uid} ({h.modality or '?'}, {len(headers)} files, {h.description or 'no description'})"
        )
    return "; ".join(lines)


def load_dicom_folder(
    folder: str | Path, *, series: str | None = None, series_id: str | None = None
) -> ImageSeries:
    """A folder of DICOM files → one series (``series``: SeriesInstanceUID when several exist)."""
    folder = Path(folder)
    groups, first, skipped = scan_folder(folder)
    if not groups:
        why = f" (skipped: {'; '.join(skipped[:5])}{' …' if len(skipped) > 5 else ''})" if skipped else ""
        raise ImageInputError(f"no DICOM images found in folder{why}", source=str(folder))
    if series is None and len(groups) > 1:
        raise ImageInputError(
            f"{len(groups)} series in folder; choose one by SeriesInstanceUID: "
            + describe_series_choices(groups),
            source=str(folder),
        )
    key = series if series is not None else next(iter(groups))
    if key not in groups:
        matches = [uid for uid in groups if series_key(uid) == key]
        if len(matches) != 1:
            raise ImageInputError(
                f"series {key!r} not in folder; found: {describe_series_choices(groups)}", source=str(folder)
            )
        key = matches[0]
    headers = groups[key]
    ds0 = first[key]
    if len(headers) == 1:
        return load_dicom_file(headers[0].path, series_id=series_id)
    multi = [h.path for h in headers if h.frames > 1]
    if multi:
        raise ImageInputError(
            f"series {key} mixes {len(multi)} multi-frame file(s) with other files; load the file directly",
            source=str(folder),
        )
    ordered, positions = sort_slices(headers)
    display = _is_display_image(ds0)
    units: Units = "uint8" if display else ("HU" if str(ds0.get("Modality")) == "CT" else "raw")
    paths = [h.path for h in ordered]
    frame_shape = _frame_shape(ds0)
    check_declared((len(paths), *frame_shape), 4, str(folder), whole=False)
    _transfer_syntax_check(ds0, paths[0])

    def read(indices: Sequence[int]) -> np.ndarray:
        out = np.empty((len(indices), *frame_shape), np.uint8 if display else np.float32)
        for k, i in enumerate(indices):
            stored, ds = _decode(paths[i])
            if stored.shape != frame_shape:
                raise ImageInputError(
                    f"slice shape {stored.shape} differs from the series' {frame_shape}", source=paths[i]
                )
            out[k] = to_display(stored, ds) if display else to_physical(stored, ds, source=paths[i])
        return out

    result = _series_from(
        ds0,
        source=str(folder),
        files=paths,
        shape=(len(paths), *frame_shape),
        units=units,
        reader=read,
        positions=positions,
        instance_numbers=[h.instance_number for h in ordered],
        series_id=series_id,
    )
    if skipped:
        result.notes.append(f"{len(skipped)} non-image or non-DICOM file(s) skipped")
    if positions and len(positions) > 2 and result.spacing is not None:
        gaps = np.diff(positions)
        if float(gaps.max() - gaps.min()) > 0.01 * max(abs(float(np.median(gaps))), 1e-6) + 1e-3:
            result.notes.append(f"uneven slice spacing ({gaps.min():.3g}–{gaps.max():.3g} mm); median used")
    return result
