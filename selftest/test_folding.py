"""Evidence sized for a person: sockcheck/verdicts/folding.py on synthetic logs and socket tables."""

from __future__ import annotations

from sockcheck.verdicts.folding import fold, fold_repeats, shape


def test_a_repeated_line_folds_to_three_with_its_count():
    log = ["listening on 127.0.0.1 port 10000 (tcp)", *["closed client: 4"] * 1772, "stopping"]
    folded = fold_repeats(log)
    assert folded == ["listening on 127.0.0.1 port 10000 (tcp)", "closed client: 4",
                      "  [... 1770 more of the same line: 1772 in all ...]", "closed client: 4", "stopping"]


def test_rows_that_differ_in_numbers_only_fold_as_lines_like_it():
    rows = [f"ESTABLISHED 127.0.0.1:10000 -> 127.0.0.1:{40000 + i}" for i in range(600)]
    folded = fold_repeats(["LISTEN 127.0.0.1:10000 -> 0.0.0.0:0", *rows])
    assert len(folded) == 4 and "598 more of lines like it: 600 in all" in folded[2]
    assert folded[1].endswith(":40000") and folded[3].endswith(":40599")
    assert shape("fd 12 of 1024") == "fd # of #"


def test_two_alike_lines_stay_as_they_are():
    assert fold_repeats(["a 1", "a 2", "b"]) == ["a 1", "a 2", "b"]


def test_a_long_text_keeps_its_head_and_tail_and_says_where_the_rest_is():
    text = "\n".join(f"line {i} {'x' * (i % 7)}" if i % 2 else f"other {i}" for i in range(500))
    out = fold(text, max_lines=10, whole="reports/evidence/x.log").split("\n")
    assert len(out) == 10 and out[0] == "other 0" and out[-1].startswith("line 499")
    assert out[5].startswith("[... ") and "reports/evidence/x.log" in out[5]


def test_a_short_text_is_unchanged():
    assert fold("one\ntwo\n") == "one\ntwo"
