"""The Done-when face figures on ../shared/data/vision: every face found, same/different people separated
(EER ≤ 2 %), both spoofs rejected and the real face accepted, and identify() naming an enrolled person."""

import pytest

from vision.faces.evaluation import FaceFigures, evaluate
from vision.faces.pipeline import FacePipeline, decoded
from vision.models import DEFAULT_MODEL_DIR, ModelStore

SHARED = DEFAULT_MODEL_DIR.parent            # ../shared beside the repository
DATA = SHARED / "data/vision"


@pytest.fixture(scope="module")
def pipeline() -> FacePipeline:
    return FacePipeline(ModelStore(DEFAULT_MODEL_DIR))


@pytest.fixture(scope="module")
def faces(pipeline: FacePipeline) -> FaceFigures:
    return evaluate(DATA / "faces", pipeline)


def test_every_photo_has_its_face_found(faces: FaceFigures) -> None:
    assert faces.photos == 42 and faces.found == 42 and not faces.missed


def test_same_and_different_people_are_separated(faces: FaceFigures) -> None:
    assert faces.same_pairs > 50 and faces.different_pairs > 500
    assert faces.eer <= 0.02
    assert faces.tar_far_1 >= 0.98


def test_both_spoofs_are_rejected_and_the_real_face_accepted(pipeline: FacePipeline) -> None:
    figures = evaluate(DATA / "liveness", pipeline)
    assert figures.liveness_checked == 3 and figures.liveness_errors == []
    real = pipeline.identify((DATA / "liveness/live_real__00.jpg").read_bytes())
    assert real.live and real.liveness >= 0.5
    for fake in ("live_fake__00.jpg", "live_fake__01.jpg"):
        spoof = pipeline.identify((DATA / "liveness" / fake).read_bytes())
        assert not spoof.live and spoof.match is None


def test_identify_names_the_enrolled_person_from_another_photo(pipeline: FacePipeline) -> None:
    folder = DATA / "faces"
    index = pipeline.index
    for number, photo in (("M-OBAMA", "fr_obama__00.jpg"), ("M-BIDEN", "fr_biden__00.jpg")):
        _, vector = pipeline.embedding(decoded((folder / photo).read_bytes()), single=False)
        index.add(photo, number, vector)
    result = pipeline.identify((folder / "fr_obama__02.jpg").read_bytes(), single=False)
    assert result.match is not None and result.match.person == "M-OBAMA"
    assert set(result.timings_ms) >= {"detect", "liveness", "total"}


def test_the_eval_command_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    from forecourt.cli import main

    assert main(["vision", "eval", "faces", str(DATA / "faces")]) == 0
    out = capsys.readouterr().out
    assert "faces found 42, detector misses 0" in out and "EER 0.00%" in out and "at FAR 0.1% 100.00%" in out
    assert main(["vision", "eval", "faces", str(DATA)]) == 2          # no labels.csv there: a clear refusal
    assert "labels.csv" in capsys.readouterr().err
