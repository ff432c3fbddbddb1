import numpy as np
import pytest

from dml_utils.evaluate import paired_comparison, retrieval_metrics


def test_retrieval_metrics_perfect_and_random():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)
    centres = np.eye(4) * 10
    good = retrieval_metrics(centres[labels] + rng.normal(0, 0.1, (40, 4)), labels)
    assert good["p_at_1"] == 1.0 and good["map_at_r"] == pytest.approx(1.0)
    bad = retrieval_metrics(rng.normal(size=(40, 4)), labels)
    assert bad["map_at_r"] < 0.6


def test_paired_comparison():
    out = paired_comparison([1.0, 2.0, 3.0, 4.0], [0.5, 1.4, 2.6, 3.3])
    assert out["mean_diff"] == pytest.approx(0.55) and out["wins"] == 4 and out["t_p"] < 0.01


def test_similarity_stats_in_blocks_equals_one_matrix():
    from dml_utils.evaluate import similarity_stats

    rng = np.random.default_rng(0)
    emb, y = rng.normal(size=(300, 8)), rng.integers(0, 7, size=300)
    whole = similarity_stats(emb, y)
    for block in (1, 64, 299):
        blocks = similarity_stats(emb, y, block=block)
        assert blocks.keys() == whole.keys()
        for k in whole:
            assert blocks[k] == pytest.approx(whole[k], rel=1e-12, abs=1e-14), (block, k)


def test_knn_in_query_blocks_gives_the_same_metrics(monkeypatch):
    from dml_utils import evaluate

    rng = np.random.default_rng(1)
    emb, y = rng.normal(size=(500, 16)).astype(np.float32), np.repeat(np.arange(50), 10)
    whole = evaluate.retrieval_metrics(emb, y, normalize=True, recall_ks=(1, 2, 4))
    monkeypatch.setattr(evaluate, "KNN_QUERY_BATCH", 37)
    assert evaluate.retrieval_metrics(emb, y, normalize=True, recall_ks=(1, 2, 4)) == pytest.approx(whole, rel=1e-6)
