from dataclasses import replace

import numpy as np
import pytest

from dml_utils.evaluate import retrieval_metrics, similarity_stats
from dml_utils.results import paired_tests


def test_retrieval_metrics_perfect_and_random():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)
    centres = np.eye(4) * 10
    good = retrieval_metrics(centres[labels] + rng.normal(0, 0.1, (40, 4)), labels)
    assert good["p_at_1"] == 1.0 and good["map_at_r"] == pytest.approx(1.0)
    bad = retrieval_metrics(rng.normal(size=(40, 4)), labels)
    assert bad["map_at_r"] < 0.6


def test_paired_tests():
    out = paired_tests([1.0, 2.0, 3.0, 4.0], [0.5, 1.4, 2.6, 3.3])
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


def test_recall_at_k_nmi_and_similarities_against_brute_force():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 12)
    emb = rng.normal(size=(60, 8)) + 1.5 * np.eye(8)[labels]
    out = retrieval_metrics(emb, labels, recall_ks=(1, 2, 4), nmi=True)
    d = ((emb[:, None] - emb[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    order = np.argsort(d, axis=1)
    for k in (1, 2, 4):
        expect = np.mean([(labels[order[i, :k]] == labels[i]).any() for i in range(60)])
        assert out[f"recall_at_{k}"] == pytest.approx(expect)
    assert out["p_at_1"] == pytest.approx(out["recall_at_1"]) and 0 < out["nmi"] <= 1
    tight = retrieval_metrics(np.eye(5)[labels] * 10 + rng.normal(0, 0.01, (60, 5)), labels, nmi=True)
    assert tight["nmi"] == pytest.approx(1.0)
    s = similarity_stats(np.array([[1.0, 0], [1, 0], [0, 1]]), np.array([0, 0, 1]))
    assert (
        s["sim_same"] == pytest.approx(1.0)
        and s["sim_diff"] == pytest.approx(0.0)
        and s["sim_all"] == pytest.approx(1 / 3)
    )


def test_recall_at_k_uses_k_neighbours_when_classes_are_smaller_than_k():
    """Classes of 3 give MAP@R's max_bin_count k = 2 neighbours; Recall@4 and @8 still need 4 and 8."""
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(6), 3)
    emb = rng.normal(size=(18, 4)) + 0.8 * np.eye(4)[labels % 4]
    out = retrieval_metrics(emb, labels, recall_ks=(1, 4, 8))
    d = ((emb[:, None] - emb[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    order = np.argsort(d, axis=1)
    for k in (1, 4, 8):
        assert out[f"recall_at_{k}"] == pytest.approx(
            np.mean([(labels[order[i, :k]] == labels[i]).any() for i in range(18)])
        )
    assert out["map_at_r"] == pytest.approx(
        retrieval_metrics(emb, labels)["map_at_r"]
    )  # MAP@R unchanged by the larger k
    with pytest.raises(ValueError, match="Recall@32 needs more than 32 items"):
        retrieval_metrics(emb, labels, recall_ks=(32,))


def test_pair_counting_f1_by_hand():
    from dml_utils.evaluate import pair_counting_f1

    # clusters {0,1} {2,3,4} {5} against classes {0,1,2} {3,4} {5}: tp = 1 + 1 = 2 (pairs 01, 34);
    # same cluster 1 + 3 = 4 pairs, same class 3 + 1 = 4 pairs: P = R = 0.5, F1 = 0.5
    assert pair_counting_f1([0, 0, 0, 1, 1, 2], [7, 7, 3, 3, 3, 9]) == pytest.approx(0.5)
    assert pair_counting_f1([0, 0, 1, 1], [5, 5, 6, 6]) == pytest.approx(1.0)  # cluster names do not matter
    assert pair_counting_f1([0, 1, 2], [0, 0, 0]) == 0.0  # no same-class pair clustered together
    rng = np.random.default_rng(0)
    y, c = rng.integers(0, 4, 60), rng.integers(0, 5, 60)
    i, j = np.triu_indices(60, 1)
    tp = ((y[i] == y[j]) & (c[i] == c[j])).sum()
    p, r = tp / (c[i] == c[j]).sum(), tp / (y[i] == y[j]).sum()
    # the pair loop of HDML's evaluation, to the last bit (counts are exact, ordered or not): the
    # committed F1 values did not move when the counts became scikit-learn's
    assert pair_counting_f1(y, c) == 2 * p * r / (p + r)
    with pytest.raises(ValueError, match="one cluster per label"):
        pair_counting_f1([0, 1], [0])


def test_clustering_metrics_on_separated_and_on_mixed_classes():
    from dml_utils.evaluate import clustering_metrics

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 25)
    blobs = rng.normal(size=(100, 8)) * 0.01 + np.eye(4, 8)[y] * 10
    assert clustering_metrics(blobs, y) == {"nmi": pytest.approx(1.0), "f1": pytest.approx(1.0)}
    noise = clustering_metrics(rng.normal(size=(100, 8)), y)
    assert noise["f1"] < 0.5 and noise["nmi"] < 0.3


def _separated(n_classes=6, per=12, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), per)
    centres = rng.normal(size=(n_classes, dim)) * 3
    return (centres[y] + rng.normal(size=(len(y), dim))).astype(np.float32), y


def test_the_named_protocols_give_what_the_studies_computed_before_them():
    """Each named protocol is the composition its studies wrote by hand before it existed: the
    committed numbers of 01-04 did not move when they began to score through it."""
    from dml_utils.evaluate import CLASS_DISJOINT, HDML_OFFICIAL, PAIRS, clustering_metrics

    emb, y = _separated()
    assert CLASS_DISJOINT.score(emb, y) == {
        **retrieval_metrics(emb, y, normalize=True, recall_ks=(1, 2, 4, 8), nmi=True),
        **similarity_stats(emb, y),
    }
    official = clustering_metrics(emb, y, n_clusters=5)
    assert replace(HDML_OFFICIAL, official_k=5).score(emb, y) == {
        **retrieval_metrics(emb, y, normalize=False, recall_ks=(1, 2, 4, 8)),
        **clustering_metrics(emb, y),
        "nmi_official_k": official["nmi"],
        "f1_official_k": official["f1"],
    }
    assert "nmi_official_k" not in replace(HDML_OFFICIAL, official_k=len(y) + 1).score(emb, y)  # k above the items
    assert PAIRS.score(emb, y) == retrieval_metrics(emb, y)
    assert CLASS_DISJOINT.map_at_r(emb, y) == retrieval_metrics(emb, y, normalize=True)["map_at_r"]


def test_protocol_baselines_one_row_per_seed_then_raw_pixels_scored_alike():
    import torch

    from dml_utils.evaluate import CLASS_DISJOINT, embed

    emb, y = _separated()
    built = []

    def nets():
        for seed in (3, 4):
            torch.manual_seed(seed)
            built.append(torch.nn.Linear(emb.shape[1], 4))
            yield seed, built[-1]

    rows = CLASS_DISJOINT.baselines(nets(), emb, y, key="method", also=lambda f: {"width": f(emb).shape[1]})
    assert [(r["method"], r["seed"]) for r in rows] == [("untrained", 3), ("untrained", 4), ("raw pixels", -1)]
    assert rows[0]["map_at_r"] == CLASS_DISJOINT.score(embed(built[0], emb), y)["map_at_r"]
    assert rows[-1]["map_at_r"] == CLASS_DISJOINT.score(emb, y)["map_at_r"]
    assert [r["width"] for r in rows] == [4, 4, emb.shape[1]]


def test_a_protocol_refuses_an_official_k_without_clustering():
    from dml_utils.evaluate import Protocol

    with pytest.raises(ValueError, match="official_k needs clustering"):
        Protocol("x", official_k=5)
    with pytest.raises(ValueError, match="official_k must be >= 1"):
        Protocol("x", clustering=True, official_k=0)
