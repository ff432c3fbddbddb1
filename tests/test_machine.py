from dml_utils.machine import cpu_fingerprint, same_float_path


def test_fingerprint_names_the_float_path():
    fp = cpu_fingerprint()
    assert {"machine", "cpu_model", "torch_cpu_capability", "cpu_flags_sha", "torch"} <= set(fp)
    assert fp["torch_cpu_capability"] and fp["machine"]
    assert same_float_path(fp, dict(fp))


def test_a_different_isa_flags_or_missing_record_is_another_float_path():
    fp = cpu_fingerprint()
    assert not same_float_path(fp, {**fp, "torch_cpu_capability": "OTHER"})
    assert not same_float_path(fp, {**fp, "cpu_flags_sha": "000000000000"})
    assert not same_float_path(fp, None) and not same_float_path({}, fp)
    assert same_float_path(fp, {**fp, "cpu_model": "another name"})  # the model string alone does not change results
