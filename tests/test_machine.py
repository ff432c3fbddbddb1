from dml_utils.machine import cpu_fingerprint


def test_fingerprint_names_the_float_path():
    fp = cpu_fingerprint()
    assert {"machine", "cpu_model", "torch_cpu_capability", "cpu_flags_sha", "torch"} <= set(fp)
    assert fp["torch_cpu_capability"] and fp["machine"]
