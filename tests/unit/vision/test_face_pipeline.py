"""The face pipeline's answers for images it cannot use: a clear error with a Chinese message, never a crash."""

import cv2
import numpy as np
import pytest

from vision.faces.pipeline import FaceError, FacePipeline
from vision.models import DEFAULT_MODEL_DIR, ModelStore

SHARED = DEFAULT_MODEL_DIR.parent            # ../shared beside the repository
PHOTO = SHARED / "data/vision/faces/fr_obama__00.jpg"


@pytest.fixture(scope="module")
def pipeline() -> FacePipeline:
    return FacePipeline(ModelStore(DEFAULT_MODEL_DIR))


@pytest.mark.parametrize("data", [b"", b"not a picture at all", PHOTO.read_bytes()[:200]])
def test_a_corrupt_image_is_a_bad_image(pipeline: FacePipeline, data: bytes) -> None:
    with pytest.raises(FaceError) as error:
        pipeline.identify(data)
    assert error.value.code == "bad_image" and "JPEG" in error.value.message


def test_an_empty_frame_has_no_face(pipeline: FacePipeline) -> None:
    _, jpeg = cv2.imencode(".jpg", np.full((480, 640, 3), 90, np.uint8))
    with pytest.raises(FaceError) as error:
        pipeline.identify(jpeg.tobytes())
    assert error.value.code == "no_face"


def test_two_people_side_by_side_are_refused_at_the_terminal(pipeline: FacePipeline) -> None:
    face = cv2.imread(str(PHOTO))
    both = np.hstack([face, face])
    with pytest.raises(FaceError) as error:
        pipeline.identify(both)
    assert error.value.code == "several_faces"
    result = pipeline.identify(face)                # one of them alone is answered
    assert result.score > 0.7 and len(result.landmarks) == 5
