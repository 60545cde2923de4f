"""Loaders for MEN, SimLex-999 and WordSim-353 on fixture files written by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vislang.eval import load_men, load_simlex999, load_word_pairs, load_wordsim353
from vislang.exceptions import CheckpointError

SIMLEX_ORIGINAL = (
    "word1\tword2\tPOS\tSimLex999\tconc(w1)\tconc(w2)\tconcQ\tAssoc(USF)\tSimAssoc333\tSD(SimLex)\n"
    "old\tnew\tA\t1.58\t2.72\t2.81\t2\t7.25\t1\t0.41\n"
    "smart\tintelligent\tA\t9.2\t1.75\t2.46\t1\t7.11\t1\t0.67\n"
    "cup\tmug\tN\t6.58\t4.9\t4.83\t4\t0.92\t0\t1.17\n"
)

SIMLEX_GENSIM = (
    "# The SimLex-999 Test data (https://www.cl.cam.ac.uk/~fh295/simlex.html)\n"
    "# Word 1\tWord 2\tHuman (mean)\n"
    "old\tnew\t1.58\n"
    "smart\tintelligent\t9.2\n"
)

WS353_GENSIM = (
    "# The WordSimilarity-353 Test Collection\n"
    "# Word 1\tWord 2\tHuman (mean)\n"
    "love\tsex\t6.77\n"
    "\n"
    "Jerusalem\tIsrael\t8.46\n"
)


def test_men_lemma_and_natural(tmp_path: Path) -> None:
    path = tmp_path / "MEN_dataset_lemma_form_full"
    path.write_text("sun-n sunlight-n 50.000000\nautomobile-n car-n 50.000000\nrun-v bird-n 10\n")
    men = load_men(path)
    assert men.name == "MEN"
    assert list(men) == [
        ("sun", "sunlight", 50.0),
        ("automobile", "car", 50.0),
        ("run", "bird", 10.0),
    ]
    assert load_men(path, strip_pos=False).word1[0] == "sun-n"
    nat = tmp_path / "MEN_dataset_natural_form_full"
    nat.write_text("sun sunlight 50.000000\n")
    assert list(load_men(nat)) == [("sun", "sunlight", 50.0)]


def test_simlex_original_with_columns(tmp_path: Path) -> None:
    path = tmp_path / "SimLex-999.txt"
    path.write_text(SIMLEX_ORIGINAL)
    sl = load_simlex999(path)
    assert sl.name == "SimLex-999" and len(sl) == 3
    np.testing.assert_allclose(sl.scores, [1.58, 9.2, 6.58])
    assert sl.columns["POS"].tolist() == ["A", "A", "N"]
    np.testing.assert_allclose(sl.columns["conc(w1)"], [2.72, 1.75, 4.9])
    np.testing.assert_allclose(sl.columns["SD(SimLex)"], [0.41, 0.67, 1.17])
    assert set(sl.columns) == {
        "POS",
        "conc(w1)",
        "conc(w2)",
        "concQ",
        "Assoc(USF)",
        "SimAssoc333",
        "SD(SimLex)",
    }
    # Columns follow subsets (e.g. nouns only).
    nouns = sl.subset(sl.columns["POS"] == "N")
    assert list(nouns) == [("cup", "mug", 6.58)]
    assert nouns.columns["concQ"].tolist() == [4.0]


def test_simlex_gensim_format(tmp_path: Path) -> None:
    path = tmp_path / "simlex999.txt"
    path.write_text(SIMLEX_GENSIM)
    assert list(load_simlex999(path)) == [("old", "new", 1.58), ("smart", "intelligent", 9.2)]


def test_simlex_header_without_score_column(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_text("word1\tword2\tPOS\tscore\nold\tnew\tA\t1.0\n")
    with pytest.raises(CheckpointError, match=r"the header has no 'SimLex999' column"):
        load_simlex999(path)


def test_wordsim353_with_comments(tmp_path: Path) -> None:
    path = tmp_path / "wordsim353.tsv"
    path.write_text(WS353_GENSIM)
    ws = load_wordsim353(path)
    assert ws.name == "WordSim-353"
    assert list(ws) == [("love", "sex", 6.77), ("Jerusalem", "Israel", 8.46)]


def test_wordsim353_csv_with_header(tmp_path: Path) -> None:
    path = tmp_path / "combined.csv"
    path.write_text("Word 1,Word 2,Human (mean)\nlove,sex,6.77\ntiger,cat,7.35\n")
    assert list(load_wordsim353(path)) == [("love", "sex", 6.77), ("tiger", "cat", 7.35)]
    tab = tmp_path / "combined.tab"
    tab.write_text("Word 1\tWord 2\tHuman (mean)\r\nlove\tsex\t6.77\r\n")
    assert list(load_wordsim353(tab)) == [("love", "sex", 6.77)]


def test_generic_loader_columns(tmp_path: Path) -> None:
    path = tmp_path / "rw.txt"
    path.write_text("9.0 a b\n1.5 c d\n")
    wp = load_word_pairs(path, columns=(1, 2, 0), header=False)
    assert list(wp) == [("a", "b", 9.0), ("c", "d", 1.5)] and wp.name == "rw"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a b 1\nc d\n", r"line 2: expected at least 3 fields, got 2"),
        ("a b 1\nc d high\n", r"line 2: the score 'high' is not a number"),
        ("# only a comment\n\n", r"no word pair found"),
        ("a b nan\n", r"scores holds NaN or inf at pair 0"),
    ],
)
def test_bad_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text(content)
    with pytest.raises(CheckpointError, match=message):
        load_word_pairs(path, header=False)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"word-pair file not found: .*men\.txt"):
        load_men(tmp_path / "men.txt")
