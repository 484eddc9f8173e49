"""EER and TAR at a FAR (the arithmetic of ``forecourt vision eval faces``)."""

import numpy as np

from vision.faces.evaluation import eer, tar_at
from vision.faces.index import FaceIndex


def test_separated_scores_have_no_equal_error() -> None:
    rate, threshold = eer(np.array([0.8, 0.9, 0.7]), np.array([0.1, 0.3, 0.2]))
    assert rate == 0.0
    assert 0.3 < threshold <= 0.7


def test_overlapping_scores_have_the_rate_where_the_errors_cross() -> None:
    same = np.array([0.9, 0.8, 0.7, 0.2])          # one genuine pair scores low
    different = np.array([0.1, 0.3, 0.75, 0.0])    # one impostor pair scores high
    rate, _ = eer(same, different)
    assert rate == 0.25


def test_tar_at_far_counts_genuine_pairs_above_the_impostor_threshold() -> None:
    different = np.linspace(0.0, 0.5, 1000)        # 1 % of impostors above 0.4945, 0.1 % above 0.4995
    same = np.array([0.497, 0.6, 0.7, 0.8])
    assert tar_at(same, different, 0.01) == 1.0
    assert tar_at(same, different, 0.001) == 0.75


def test_the_index_finds_the_closest_person_and_forgets_a_deleted_one() -> None:
    index = FaceIndex(3)
    index.load([("1", "M1", np.array([1.0, 0, 0])), ("2", "M2", np.array([0, 1.0, 0]))])
    index.add("3", "M3", np.array([0, 0, 2.0]))
    best = index.best(np.array([0.1, 0.9, 0.0]))
    assert best is not None and best.person == "M2" and 0.99 < best.similarity <= 1.0
    index.remove_person("M2")
    best = index.best(np.array([0.1, 0.9, 0.0]))
    assert best is not None and best.person != "M2" and len(index) == 2
