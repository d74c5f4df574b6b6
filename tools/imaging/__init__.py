"""Images → what MedGemma sees: loaders, model-ready frames, request layouts, masks, overlays.

    from medboard.tools.imaging import load_image, build_layout

    series = load_image("ct/")                   # DICOM folder/file, NRRD, NIfTI, PNG/JPEG/TIFF
    layout = build_layout("ct", series)          # ct | mri | cxr | wsi | image, recipe order
    content = layout.to_openai_content("jpeg")   # AutoGen: medboard.llm.content.autogen_content(layout)

Modules (small, each with its reasons in its docstring): `series` (the `ImageSeries` shape),
`dicom`, `volumes`, `raster`, `tiff`, `patches` (loaders), `frames` (pure array functions:
windows, sampling, min–max, letterbox with box mapping, encoding), `budget` (image tokens vs
endpoint limits), `layouts` (ordered message parts per recipe), `linking` (images ↔
ImagingStudy ↔ DiagnosticReport), `measure` and `seg` (lesion size from masks), `overlay`.

Heavy libraries (pydicom, nibabel, tifffile, Pillow) are imported by the functions that need them.
"""

from medboard.tools.imaging.budget import EndpointLimits, ImageBudgetError, check_budget
from medboard.tools.imaging.frames import Letterbox, ct_rgb, letterbox, minmax_u8, sample_indices
from medboard.tools.imaging.layouts import (
    ImagePart,
    RequestLayout,
    TextPart,
    build_layout,
    ct_layout,
    cxr_layout,
    default_recipe,
    image_layout,
    mri_layout,
    wsi_layout,
)
from medboard.tools.imaging.linking import StudyLink, link_series, reports_for_study
from medboard.tools.imaging.load import load_image
from medboard.tools.imaging.measure import MaskMeasurement, measure_mask
from medboard.tools.imaging.overlay import Box, draw_boxes, save_overlay
from medboard.tools.imaging.seg import seg_to_labels
from medboard.tools.imaging.series import ImageSeries

__all__ = [
    "Box",
    "EndpointLimits",
    "ImageBudgetError",
    "ImagePart",
    "ImageSeries",
    "Letterbox",
    "MaskMeasurement",
    "RequestLayout",
    "StudyLink",
    "TextPart",
    "build_layout",
    "check_budget",
    "ct_layout",
    "ct_rgb",
    "cxr_layout",
    "default_recipe",
    "draw_boxes",
    "image_layout",
    "letterbox",
    "link_series",
    "load_image",
    "measure_mask",
    "minmax_u8",
    "mri_layout",
    "reports_for_study",
    "sample_indices",
    "save_overlay",
    "seg_to_labels",
    "wsi_layout",
]
