"""The SentEval-protocol transfer harness: classifiers on tasks with a known answer, identical
folds per seed, the readers on fixture files in SentEval's layout, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vislang.eval import transfer as T
from vislang.exceptions import DatasetFormatError, DatasetNotFoundError, InvalidInputError

FAST = {"n_folds": 3, "inner_folds": 3, "reg_grid": (0.1, 1.0)}


def _separable(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, 6))
    x[:, 2] += 6.0 * (2 * y - 1)
    return x, y


def test_nested_cv_on_separable_and_random_data() -> None:
    x, y = _separable()
    res = T.cross_validate_classifier(x, y, **FAST)
    assert res["acc"] == 100.0 and len(res["fold_acc"]) == 3
    assert all(r in (0.1, 1.0) for r in res["regs"])
    rng = np.random.default_rng(1)
    noise = T.cross_validate_classifier(rng.normal(size=(120, 6)), y, **FAST)
    assert 25.0 < noise["acc"] < 75.0


def test_mlp_option_learns_xor() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(240, 2))
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)
    lin = T.cross_validate_classifier(x, y, n_folds=3, inner_folds=2, reg_grid=(1.0,))
    mlp = T.cross_validate_classifier(x, y, n_folds=3, inner_folds=2, reg_grid=(1e-4,),
                                      classifier="mlp")  # fmt: skip
    assert mlp["acc"] > 85.0 and lin["acc"] < 75.0
    with pytest.raises(InvalidInputError, match="classifier"):
        T.cross_validate_classifier(x, y, classifier="svm")


def test_folds_are_identical_for_a_seed() -> None:
    x, y = _separable()
    a = T.cross_validate_classifier(x, y, seed=7, **FAST)
    b = T.cross_validate_classifier(x, y, seed=7, **FAST)
    c = T.cross_validate_classifier(x, y, seed=8, **FAST)
    for fa, fb in zip(a["folds"], b["folds"], strict=True):
        np.testing.assert_array_equal(fa, fb)
    assert any(not np.array_equal(fa, fc) for fa, fc in zip(a["folds"], c["folds"], strict=True))
    assert a["fold_acc"] == b["fold_acc"]
    # stratified: every fold has both classes in equal number
    assert all(abs(int(y[f].sum()) * 2 - len(f)) <= 1 for f in a["folds"])


def test_bad_inputs_raise_vislang_errors() -> None:
    x, y = _separable()
    with pytest.raises(InvalidInputError, match="only one class"):
        T.cross_validate_classifier(x, np.zeros(120, np.int64), **FAST)
    with pytest.raises(InvalidInputError, match="counts must match"):
        T.cross_validate_classifier(x, y[:-1], **FAST)
    bad = x.copy()
    bad[5, 1] = np.nan
    with pytest.raises(InvalidInputError, match="NaN or inf at row 5"):
        T.cross_validate_classifier(bad, y, **FAST)
    rare = y.copy()
    rare[:] = 0
    rare[0] = 1
    with pytest.raises(InvalidInputError, match=">= 2 examples of every class"):
        T.cross_validate_classifier(x, rare, **FAST)
    with pytest.raises(InvalidInputError, match="reg_grid"):
        T.cross_validate_classifier(x, y, n_folds=3, reg_grid=(0.0,))
    with pytest.raises(InvalidInputError, match="2 labels for 3 sentences"):
        T.ClassificationTask("t", ["a", "b", "c"], np.array([0, 1]))


def test_split_classifier_with_and_without_dev() -> None:
    x, y = _separable(180)
    tr, dv, te = slice(0, 100), slice(100, 140), slice(140, 180)
    with_dev = T.split_classifier((x[tr], y[tr]), (x[te], y[te]), (x[dv], y[dv]),
                                  reg_grid=(0.01, 1.0))  # fmt: skip
    assert with_dev["acc"] == 100.0 and with_dev["devacc"] == 100.0
    no_dev = T.split_classifier((x[tr], y[tr]), (x[te], y[te]), inner_folds=3)
    assert no_dev["acc"] == 100.0 and np.isnan(no_dev["devacc"])
    with pytest.raises(InvalidInputError, match="columns"):
        T.split_classifier((x[tr], y[tr]), (x[te, :3], y[te]))


def test_relatedness_recovers_a_similarity_score() -> None:
    rng = np.random.default_rng(0)

    def split(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        u = rng.normal(size=(n, 4))
        noise = rng.uniform(0.0, 1.5, size=(n, 1))
        v = u + noise * rng.normal(size=(n, 4))
        score = 5.0 - 4.0 * noise[:, 0] / 1.5
        return u, v, score

    res = T.relatedness(split(300), split(100), split(100))
    assert res["pearson"] > 0.6 and res["spearman"] > 0.6 and res["l2"] > 0
    u, v, s = split(10)
    with pytest.raises(InvalidInputError, match="outside"):
        T.relatedness((u, v, s + 10), (u, v, s), (u, v, s))
    with pytest.raises(InvalidInputError, match="shapes"):
        T.relatedness((u, v[:5], s), (u, v, s), (u, v, s))


def test_tai_target_distribution() -> None:
    p = T._score_distribution(np.array([1.0, 2.3, 5.0]), 1, 5)
    np.testing.assert_allclose(p.sum(1), 1.0)
    np.testing.assert_allclose(p @ np.arange(1, 6), [1.0, 2.3, 5.0])


def test_paraphrase_retrieval_known_answer() -> None:
    x = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.7, 0.7]])
    res = T.paraphrase_retrieval(x, np.array([0, 0, 1, 1, 2]))
    assert res["r1"] == 100.0 and res["n_queries"] == 4 and res["medr"] == 1.0
    swapped = T.paraphrase_retrieval(x, np.array([0, 1, 0, 1, 2]))
    assert swapped["r1"] == 0.0
    with pytest.raises(InvalidInputError, match="no group has two"):
        T.paraphrase_retrieval(x, np.arange(5))
    with pytest.raises(InvalidInputError, match="must match"):
        T.paraphrase_retrieval(x, np.arange(4))


def test_image_caption_retrieval_with_a_linear_map() -> None:
    rng = np.random.default_rng(0)
    images = rng.normal(size=(60, 8))
    t2i = np.repeat(np.arange(60), 2)
    text = images[t2i] @ rng.normal(size=(8, 12)) + 0.01 * rng.normal(size=(120, 12))
    res = T.image_caption_retrieval(text[:80], images[:40], t2i[:80], text[80:],
                                    images[40:], t2i[80:] - 40, ridge=1e-3)  # fmt: skip
    assert res["t2i_r1"] > 90.0 and res["i2t_r1"] > 90.0


def test_concreteness_with_given_and_packaged_norms() -> None:
    norms = {"dog": 5.0, "idea": 1.0, "red": 4.0}
    c = T.concreteness_scores(["a red dog", "an idea", "nothing rated"], norms)
    np.testing.assert_allclose(c[:2], [4.5, 1.0])
    assert np.isnan(c[2])
    real = T.concreteness_scores(["a brown dog on the grass", "the hope of freedom"])
    assert real[0] > real[1] + 1.0
    x, y = _separable(80)
    sents = [f"{'dog grass' if i % 4 < 2 else 'idea hope'} {i}" for i in range(80)]
    res = T.concreteness_analysis({"sep": x, "noise": x[:, :2]}, sents, y, n_folds=3,
                                  inner_folds=2)  # fmt: skip
    assert res["n_rated"] == 80 and len(res["bins"]) == 2
    assert res["bins"][0][1] <= res["bins"][1][0]
    assert res["accuracy"]["sep"] == [100.0, 100.0] and res["overall"]["sep"] == 100.0


def test_pang_lee_polarity_sample() -> None:
    task = T.load_pang_lee_polarity()
    assert len(task.sentences) == 200 and int(task.labels.sum()) == 100
    assert task.sentences[0].startswith("simplistic")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def senteval(tmp_path: Path) -> Path:
    """A tiny ``data/downstream`` folder in SentEval's layout."""
    root = tmp_path / "downstream"
    pos = "".join(f"a great fun film number {i}\n" for i in range(12))
    neg = "".join(f"a dull boring film number {i}\n" for i in range(12))
    _write(root / "MR" / "rt-polarity.pos", pos)
    _write(root / "MR" / "rt-polarity.neg", neg)
    _write(root / "SUBJ" / "subj.subjective", pos)
    _write(root / "SUBJ" / "subj.objective", neg)
    trec = "".join(
        f"{lab}:x {q} thing {i} ?\n"
        for i in range(6)
        for lab, q in (("HUM", "who"), ("LOC", "where"))
    )
    _write(root / "TREC" / "train_5500.label", trec)
    _write(root / "TREC" / "TREC_10.label", trec)
    sst = "".join(f"good movie {i}\t1\nbad movie {i}\t0\n" for i in range(6))
    for split in ("train", "dev", "test"):
        _write(root / "SST" / "binary" / f"sentiment-{split}", sst)
    header = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n"
    rows = [
        f"{i}\ta dog runs {i}\ta dog runs {i}\t{1 + (i % 5) * 0.9:.1f}\t"
        f"{['NEUTRAL', 'ENTAILMENT', 'CONTRADICTION'][i % 3]}\n"
        for i in range(9)
    ]
    for f in ("SICK_train.txt", "SICK_trial.txt", "SICK_test_annotated.txt"):
        _write(root / "SICK" / f, header + "".join(rows))
    mrpc = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + "".join(
        f"{i % 2}\t{i}\t{i + 100}\tthe cat sat {i}\tthe cat sat {i}\n" for i in range(8)
    )
    _write(root / "MRPC" / "msr_paraphrase_train.txt", mrpc)
    _write(root / "MRPC" / "msr_paraphrase_test.txt", mrpc)
    sts = "".join(f"main\tfile\t2012\t{i}\t{i % 6:.1f}\ta man {i}\ta woman {i}\n" for i in range(8))
    for split in ("train", "dev", "test"):
        _write(root / "STS" / "STSBenchmark" / f"sts-{split}.csv", sts)
    return root


def test_readers_parse_senteval_layout(senteval: Path) -> None:
    mr = T.load_senteval_task("MR", senteval)
    assert isinstance(mr, T.ClassificationTask) and len(mr.sentences) == 24
    assert mr.labels.tolist() == [1] * 12 + [0] * 12
    trec = T.load_senteval_task("TREC", senteval)
    assert isinstance(trec, T.SplitTask) and trec.classes == ["HUM", "LOC"]
    assert trec.train.sentences[0] == "who thing 0 ?" and trec.dev is None
    sst = T.load_senteval_task("SST-2", senteval)
    assert isinstance(sst, T.SplitTask) and sst.dev is not None and len(sst.test) == 12
    sick_e = T.load_senteval_task("SICK-E", senteval)
    assert isinstance(sick_e, T.SplitTask) and sick_e.train.labels.tolist()[:3] == [1, 2, 0]
    sick_r = T.load_senteval_task("SICK-R", senteval)
    assert isinstance(sick_r, T.RelatednessTask) and sick_r.train.labels[1] == pytest.approx(1.9)
    mrpc = T.load_senteval_task("MRPC", senteval)
    assert isinstance(mrpc, T.SplitTask) and isinstance(mrpc.train.sentences, tuple)
    stsb = T.load_senteval_task("STS-B", senteval)
    assert isinstance(stsb, T.RelatednessTask) and (stsb.low, stsb.high) == (0.0, 5.0)


def test_evaluate_encoder_runs_every_protocol(senteval: Path) -> None:
    def encoder(sentences: list[str]) -> np.ndarray:
        """Bag of a few words plus the trailing number: enough to separate the fixtures."""
        vocab = ["great", "fun", "dull", "boring", "who", "where", "good", "bad", "dog", "cat"]
        out = np.array([[float(w in s.split()) for w in vocab] for s in sentences])
        num = np.array([[float(s.split()[-1].strip("?") or 0) if s.split()[-1].isdigit() else 0]
                        for s in sentences])  # fmt: skip
        return np.hstack([out, num])

    mr = T.evaluate_encoder(encoder, T.load_senteval_task("MR", senteval), n_folds=3,
                            inner_folds=2)  # fmt: skip
    assert mr["acc"] == 100.0
    trec = T.evaluate_encoder(encoder, T.load_senteval_task("TREC", senteval), inner_folds=2)
    assert trec["acc"] == 100.0
    sst = T.evaluate_encoder(encoder, T.load_senteval_task("SST2", senteval))
    assert sst["acc"] == 100.0 and sst["devacc"] == 100.0
    sick = T.evaluate_encoder(encoder, T.load_senteval_task("SICK-R", senteval))
    assert set(sick) >= {"pearson", "spearman", "mse"}
    with pytest.raises(InvalidInputError, match="returned shape"):
        T.evaluate_encoder(lambda s: np.ones(len(s)), T.load_senteval_task("MR", senteval))


def test_reader_errors_name_file_and_line(senteval: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="SentEval data folder not found"):
        T.load_senteval_task("MR", senteval / "nope")
    with pytest.raises(DatasetNotFoundError, match=r"CR/custrev\.pos"):
        T.load_senteval_task("CR", senteval)
    with pytest.raises(InvalidInputError, match="unknown SentEval task"):
        T.load_senteval_task("SQuAD", senteval)
    p = senteval / "TREC" / "TREC_10.label"
    p.write_text("HUM:x who is it ?\nno label here\n")
    with pytest.raises(DatasetFormatError, match=r"TREC_10\.label:2: expected 'LABEL:fine"):
        T.load_senteval_task("TREC", senteval)
    p = senteval / "SST" / "binary" / "sentiment-dev"
    p.write_text("fine\t1\nbroken line 7\n")
    with pytest.raises(DatasetFormatError, match=r"sentiment-dev:2: expected 'sentence<TAB>0\|1'"):
        T.load_senteval_task("SST2", senteval)
    p = senteval / "SICK" / "SICK_trial.txt"
    p.write_text("header\n1\ta\tb\tnot-a-number\tNEUTRAL\n")
    with pytest.raises(DatasetFormatError, match=r"SICK_trial\.txt:2: bad score 'not-a-number'"):
        T.load_senteval_task("SICK-R", senteval)
    p.write_text("header\n1\t \tb\t3.0\tNEUTRAL\n")
    with pytest.raises(DatasetFormatError, match=r"SICK_trial\.txt:2: empty sentence"):
        T.load_senteval_task("SICK-E", senteval)
    p = senteval / "STS" / "STSBenchmark" / "sts-test.csv"
    p.write_text("main\tfile\t2012\t0\tfive\ta\tb\n")
    with pytest.raises(DatasetFormatError, match=r"sts-test\.csv:1: expected genre"):
        T.load_senteval_task("STS-B", senteval)
    one_class = senteval / "MR" / "rt-polarity.neg"
    one_class.write_text("")
    with pytest.raises(InvalidInputError, match="only one class"):
        T.load_senteval_task("MR", senteval)
    bad = _write(senteval / "pl.cor", "__label__pos fine\n__label__maybe what\n")
    with pytest.raises(DatasetFormatError, match=r"pl\.cor:2"):
        T.load_pang_lee_polarity(bad)
