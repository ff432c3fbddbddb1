"""scripts/run_notebooks.py refuses what would run the wrong thing, before any notebook runs."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "scripts" / "run_notebooks.py")
rn = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rn)
NB03 = ROOT / "notebooks" / "03_yukawa_vs_contrastive_mnist.ipynb"


@pytest.mark.parametrize("argv,phrase", [
    (["--profile", "smoke", "--baseline", "-p", "imbalance_ratio", "10", str(NB03)], "does not know ['imbalance_ratio']; known: ['allow_download'"),
    (["--profile", "default", "-p", "profile", "smoke", str(NB03)], "not -p profile"),
    (["--profile", "smoke", str(NB03)], "only the default profile may write over committed notebooks"),
])
def test_refused_before_running(argv, phrase, capsys):
    before = NB03.stat().st_mtime_ns
    with pytest.raises(SystemExit) as e:
        rn.main(argv)
    assert e.value.code == 2 and phrase in capsys.readouterr().err
    assert NB03.stat().st_mtime_ns == before
