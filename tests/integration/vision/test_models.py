"""The model store on the real model files: hashes checked, missing files fetched from a source, sessions made."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from vision.models import DEFAULT_MODEL_DIR, MANIFEST, ModelError, ModelStore, sha256_of, spec


def test_every_pinned_model_in_the_shared_folder_matches_its_manifest_hash() -> None:
    store = ModelStore(DEFAULT_MODEL_DIR, download=False)
    shared = [s for s in MANIFEST if (DEFAULT_MODEL_DIR / s.file).is_file()]
    assert {s.name for s in shared} >= {"plate_detect_320", "plate_detect_640", "plate_colour", "face_detect",
                                         "liveness_v2", "liveness_v1se", "face_embed_mobilefacenet"}
    for model in shared:
        assert store.path(model.name) == DEFAULT_MODEL_DIR / model.file


def test_a_file_with_another_hash_is_refused_naming_the_file_and_both_hashes(tmp_path: Path) -> None:
    target = tmp_path / spec("plate_colour").file
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the colour model")
    with pytest.raises(ModelError) as refused:
        ModelStore(tmp_path).path("plate_colour")
    message = str(refused.value)
    assert str(target) in message
    assert sha256_of(target) in message and spec("plate_colour").sha256 in message


def test_a_missing_file_is_an_error_saying_what_to_do_when_downloading_is_off(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"missing.*FORECOURT_VISION_DOWNLOAD"):
        ModelStore(tmp_path).path("plate_detect_320")


def test_a_missing_file_is_fetched_from_its_source_and_checked(tmp_path: Path) -> None:
    source = tmp_path / "mirror"
    source.mkdir()
    shutil.copy(DEFAULT_MODEL_DIR / spec("plate_detect_320").file, source / "y5fu_320x_sim.onnx")
    models = tmp_path / "models"
    store = ModelStore(models, download=True,
                       sources={"plate_detect_320": (source / "y5fu_320x_sim.onnx").as_uri()})
    fetched = store.path("plate_detect_320")
    assert fetched == models / "plate" / "plate_detect_y5fu_320.onnx"
    assert sha256_of(fetched) == spec("plate_detect_320").sha256
    output = store.session("plate_detect_320").run(None, {"input": np.zeros((1, 3, 320, 320), np.float32)})[0]
    assert output.shape == (1, 6300, 15)


def test_a_source_with_the_wrong_file_installs_nothing(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.onnx"
    wrong.write_bytes(b"someone else's model")
    models = tmp_path / "models"
    store = ModelStore(models, download=True, sources={"plate_colour": wrong.as_uri()})
    with pytest.raises(ModelError, match="expected"):
        store.path("plate_colour")
    assert not (models / spec("plate_colour").file).exists()
    assert list((models / "plate").iterdir()) == []   # no half-written temporary left behind


def test_the_text_recogniser_comes_from_the_installed_wheel(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, download=True)
    assert sha256_of(store.path("plate_text")) == spec("plate_text").sha256
    session = store.session("plate_text")
    assert "character" in session.get_modelmeta().custom_metadata_map


def test_sface_is_refused_until_its_hash_is_pinned(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no pinned SHA-256"):
        ModelStore(tmp_path).path(ModelStore(tmp_path).embedder("sface"))
    assert ModelStore(tmp_path).embedder("mobilefacenet") == "face_embed_mobilefacenet"


def test_an_unknown_model_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="plate_detect_320"):
        ModelStore(tmp_path).path("plate_detector")


def test_a_file_that_is_not_onnx_but_has_the_pinned_hash_is_a_clear_load_error(tmp_path: Path) -> None:
    junk = tmp_path / "plate" / "plate_color_cls_96.onnx"
    junk.parent.mkdir(parents=True)
    junk.write_bytes(b"junk")
    store = ModelStore(tmp_path, pins={"plate_colour": sha256_of(junk)})
    with pytest.raises(ModelError, match="does not load"):
        store.session("plate_colour")
