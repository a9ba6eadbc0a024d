"""explain(): bits, fields, exact value, class, neighbours, ulp and the rounding
error of a decimal input; clear errors for bad formats and bit strings."""

import pytest

from certnn.floats import FloatFormatError, explain


def test_decimal_input_binary32():
    out = explain("0.1", "binary32")
    for part in ("0 | 01111011 | 10011001100110011001101", "(0x3dcccccd)", "exponent=123 (2^-4)",
                 "class     normal", "value     13421773/134217728", "decimal   0.100000001490116119384765625",
                 "shortest  0.1", "ulp       2^-27", "nextDown  0x3dcccccc = 0.0999999940395355224609375",
                 "nextUp    0x3dccccce = 0.10000000894069671630859375", "exact input 1/10",
                 "abs err 1/671088640", "= 0.2 ulp", "= 0.25 u", "flags     inexact"):
        assert part in out, part


def test_bit_pattern_input():
    out = explain("0x3f800000", "binary32")
    assert "(bit pattern, exact)" in out and "value     1\n" in out and "rounding" not in out
    assert "nextUp    0x3f800001 = 1.00000011920928955078125" in out
    out = explain("0x00000001", "binary32")
    assert "class     subnormal" in out and "2^-149" in out and "nextDown  0x00000000 = 0" in out
    assert "class     nan (signalling)" in explain("0x7f800001", "binary32")
    assert "class     nan (quiet, canonical)" in explain("0X7FC0_0000", "binary32")
    assert "1 | 1111 | 110" in explain("0b11111110", "e4m3")


@pytest.mark.parametrize("value,fmt,parts", [
    ("-0", "binary16", ["1 | 00000 | 0000000000", "class     zero", "value     -0", "nextUp    0x0001"]),
    ("inf", "bfloat16", ["0 | 11111111 | 0000000", "class     inf", "nextDown  0x7f7f"]),
    ("-inf", "e5m2", ["1 | 11111 | 00", "nextUp    0xfb = -57344"]),
    ("nan", "e4m3", ["0 | 1111 | 111", "class     nan (quiet, canonical)"]),
    ("448", "e4m3", ["0 | 1111 | 110", "value     448", "nextUp    0x7f = NaN", "no infinities"]),
    ("465", "e4m3", ["overflows", "to NaN", "flags     inexact, overflow"]),
    ("1e40", "binary32", ["class     inf", "overflows", "to +inf"]),
    ("1e-50", "binary32", ["class     zero", "flags     inexact, underflow"]),
    ("1/3", "bfloat16", ["value     171/512", "rel err 0.001953125 = 0.5 u"]),
    ("57344", "e5m2", ["ulp       2^13 = 8192", "abs err 0 = 0 (exact)"]),
])
def test_each_format_and_class(value, fmt, parts):
    out = explain(value, fmt)
    for part in parts:
        assert part in out, (part, out)


@pytest.mark.parametrize("value,fmt,match", [
    ("0x3f80", "binary32", "malformed binary32 bit string '0x3f80': need '0x' and exactly 8 hex digits"),
    ("0x3f8000000", "binary32", "exactly 8 hex digits"),
    ("0x3f80000g", "binary32", "malformed"),
    ("0x7", "e4m3", "exactly 2 hex digits"),
    ("0b101", "binary16", "exactly 16 binary digits"),
    ("0x", "binary16", "malformed"),
    ("abc", "binary32", "'abc' is not a decimal number, 'inf' or 'nan'"),
    ("1..2", "binary32", "not a decimal number"),
    ("1.0", "binary8", "unknown float format 'binary8'; known formats: binary32, binary16, bfloat16, e4m3, e5m2"),
    ("1.0", "float8", "known formats"),
])
def test_bad_input(value, fmt, match):
    with pytest.raises(FloatFormatError, match=match.replace("(", "\\(")):
        explain(value, fmt)


def test_non_string_value():
    with pytest.raises(FloatFormatError, match="needs a string"):
        explain(0.1, "binary32")


def test_cli_float_explain(capsys):
    from certnn.cli import main
    main(["float", "explain", "0.1"])
    assert "0x3dcccccd" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["float", "explain", "0x3f80"])
    assert e.value.code != 0 and "exactly 8 hex digits" in capsys.readouterr().err


@pytest.mark.parametrize("value,fmt,want", [
    ("0.1", "binary32", {"bits": "0x3dcccccd", "sign": 0, "exponent": 123, "exponent_unbiased": -4,
                         "fraction": "0x4ccccd", "class": "normal", "value": "0.100000001490116119384765625",
                         "shortest": "0.1", "ulp": "0.000000007450580596923828125", "flags": ["inexact"]}),
    ("0x00000001", "binary32", {"class": "subnormal", "ulp_pow2": "2^-149", "exponent": 0, "flags": None}),
    ("-inf", "e5m2", {"bits": "0xfc", "sign": 1, "class": "inf", "value": "-inf", "ulp": None}),
    ("0x7fc00000", "binary32", {"class": "nan", "value": "nan", "ulp": None, "fraction": "0x400000"}),
])
def test_cli_float_explain_json(capsys, value, fmt, want):
    """--json prints exactly one JSON object with the fields, the same numbers as the text report."""
    import json
    from certnn.cli import main
    main(["float", "explain", "--json", "--format", fmt, "--", value])
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    got = json.loads(out)
    assert got["format"] == fmt and {k: got[k] for k in want} == want
    text = explain(value, fmt)
    assert got["bits"] in text and f"class     {got['class']}" in text
