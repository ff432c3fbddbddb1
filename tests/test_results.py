import json

import numpy as np
import pytest

from dml_utils.config import config
from dml_utils.results import claims_table, difference_verdict, format_claims, mean_std, write_results


def test_write_results_records_provenance_and_replaces_atomically(tmp_path):
    cfg = config("03_yukawa_vs_contrastive_mnist", "smoke", root=tmp_path)
    path = write_results(cfg, {"metric": np.float32(0.5), "bad": float("nan")}, [{"name": "mnist", "source": "x"}])
    doc = json.loads(path.read_text())
    assert path == tmp_path / "build/smoke/results/03_yukawa_vs_contrastive_mnist.json"
    assert doc["profile"] == "smoke" and doc["config"]["seeds"] == [0, 1] and doc["data"][0]["source"] == "x"
    assert doc["libraries"]["torch"] and doc["metric"] == 0.5 and doc["bad"] is None and "git_commit" in doc
    with pytest.raises(TypeError):
        write_results(cfg, {"oops": object()}, [])
    assert json.loads(path.read_text())["metric"] == 0.5  # the failed write left the old file whole
    assert not list(path.parent.glob("*.tmp"))


def test_verdicts_and_table():
    assert difference_verdict(0.5, 0.01, 5, 5) == "reproduced"
    assert difference_verdict(0.5, 0.2, 4, 5) == "partly"
    assert difference_verdict(-0.5, 0.01, 0, 5) == "not reproduced"
    assert mean_std([1.0, 2.0, 3.0], 2) == "2.00 ± 1.00 (n=3)"
    t = claims_table([{"claim": "c", "reported": "r", "ours": "o", "verdict": "partly", "why": ""}])
    assert "verdict:  partly" in format_claims(t)
    with pytest.raises(ValueError, match="verdict"):
        claims_table([{"claim": "c", "reported": "r", "ours": "o", "verdict": "yes", "why": ""}])
