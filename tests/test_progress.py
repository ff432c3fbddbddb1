import io

from dml_utils import progress


def test_text_mode_is_tqdms_plain_bar(monkeypatch):
    from tqdm.std import tqdm

    monkeypatch.setenv(progress.ENV, "text")
    out = io.StringIO()
    b = progress.bar(range(3), desc="passes", file=out)
    assert type(b) is tqdm and list(b) == [0, 1, 2]
    assert "passes: 100%|" in out.getvalue()


def test_progress_residue_is_told_from_results():
    bar = {
        "output_type": "stream",
        "name": "stderr",
        "text": "mnist yukawa seed 0:  18%|█▊        | 7/40 [00:02<00:10,  3.16it/s, loss=0.0183]\r"
        "mnist yukawa seed 0: 100%|██████████| 40/40 [00:11<00:00,  3.42it/s]\n   \n",
    }
    blank = {"output_type": "stream", "name": "stderr", "text": "                 \r"}
    widget = {
        "output_type": "display_data",
        "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "  0%|          | 0/40"},
    }
    warning = {"output_type": "stream", "name": "stderr", "text": "UserWarning: something the reader must see\n"}
    mixed = {"output_type": "stream", "name": "stderr", "text": bar["text"] + "RuntimeWarning: overflow\n"}
    stdout = {"output_type": "stream", "name": "stdout", "text": " 50%|█████     | 1/2 [00:00<00:00]\n"}
    table = {"output_type": "display_data", "data": {"text/html": "<table/>", "text/plain": "t"}}
    assert [progress.is_progress_output(o) for o in (bar, blank, widget, warning, mixed, stdout, table)] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
