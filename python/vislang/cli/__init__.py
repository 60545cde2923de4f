"""``vislang``: the command line (``vislang`` console script, ``python -m vislang``).

Subcommands::

    vislang vocab IMAGES... --n-words K --out vocab.safetensors     descriptors -> vocabulary
    vislang encode IMAGES... --vocab FILE --out codes.npy           images -> BoVW / VLAD codes
    vislang train NAME --config FILE.toml [--set key=value ...]     train a model (--list)
    vislang eval retrieval --images I.npy --texts T.npy --text-to-image M.npy
    vislang eval similarity --vectors FILE --pairs simlex999|wordsim353|men|PATH
    vislang demo [--quick] [--out DIR]                              the demo report
    vislang caption IMAGES... --model DIR [--beam 3] [--attention-out DIR]

Common options: ``--seed``, ``--threads``, ``--quiet`` (no progress bars), ``--json``
(machine-readable result on stdout), ``--debug`` (tracebacks); ``--device auto|cpu|cuda`` where
PyTorch runs. Results go to stdout, progress to stderr. A user error prints one line
``vislang: error: ...`` and exits with 2 (bad command line) or 1 (anything else).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import NoReturn

from vislang.cli import _caption, _commands
from vislang.cli._common import CLIError, UsageError
from vislang.train import list_runners

__all__ = ["build_parser", "main"]

PROG = "vislang"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (raised, so that :func:`main` decides the exit)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 1,2, got {text!r}"
        )
    return values


def _common_options(device: bool) -> _Parser:
    parent = _Parser(add_help=False)
    g = parent.add_argument_group("common options")
    g.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed (default 0; train: the config's train.seed)",
    )
    g.add_argument(
        "--threads", type=_positive_int, default=None, help="CPU threads (default: all cores)"
    )
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bars or messages")
    g.add_argument(
        "--json", dest="json_output", action="store_true", help="print the result as JSON"
    )
    g.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    if device:
        g.add_argument(
            "--device",
            choices=("auto", "cpu", "cuda"),
            default="auto",
            help="PyTorch device (default auto: cuda when available)",
        )
    return parent


def _image_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "images",
        nargs="+",
        metavar="IMAGES",
        help="image files or folders (searched recursively), or saved descriptor sets "
        "(.safetensors / .npz from DescriptorSet.save)",
    )
    g = p.add_argument_group("descriptors")
    g.add_argument(
        "--extractor",
        choices=("sift", "dense-sift", "root-sift", "orb"),
        default=None,
        help="local descriptor (default sift; encode: the one recorded in --vocab)",
    )
    g.add_argument(
        "--max-side", type=_positive_int, default=None, help="shrink images to this longer side"
    )
    g.add_argument(
        "--n-features",
        type=int,
        default=None,
        help="keypoints kept per image, sift/root-sift/orb (default: all; orb 500)",
    )
    g.add_argument("--step", type=_positive_int, default=None, help="dense-sift grid step (8)")
    g.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="an unreadable image stops the run (raise) or is skipped with a warning",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``vislang`` argument parser (each subcommand stores its handler in ``handler``)."""
    parser = _Parser(
        prog=PROG,
        description="vislang: early vision-and-language models (bag of visual words, "
        "multimodal word vectors, cross-modal retrieval).",
        epilog="Run 'vislang COMMAND --help' for the options of a command.",
    )
    from vislang import __version__

    parser.add_argument("--version", action="version", version=f"vislang {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    plain, torch_opts = _common_options(device=False), _common_options(device=True)

    p = sub.add_parser(
        "vocab",
        parents=[plain],
        help="descriptors -> visual vocabulary (k-means) file",
        description="Extract local descriptors and cluster them into a visual vocabulary.",
    )
    _image_options(p)
    p.add_argument("--n-words", type=_positive_int, required=True, help="vocabulary size K")
    p.add_argument(
        "--sample", type=_positive_int, default=None, help="cluster a random sample of N rows"
    )
    p.add_argument("--max-iter", type=_positive_int, default=300, help="k-means iterations")
    p.add_argument(
        "--batch-size", type=_positive_int, default=None, help="mini-batch k-means batch size"
    )
    p.add_argument(
        "--save-descriptors", metavar="FILE", help="also save the descriptor set (.safetensors)"
    )
    p.add_argument("--out", required=True, help="vocabulary file (.safetensors or .npz)")
    p.set_defaults(handler=_commands.vocab)

    p = sub.add_parser(
        "encode",
        parents=[plain],
        help="images -> bag-of-visual-words / VLAD codes (.npy)",
        description="Encode images over a vocabulary; writes OUT.npy (one row per image) and "
        "OUT.images.txt (the image of each row).",
    )
    _image_options(p)
    p.add_argument("--vocab", required=True, help="vocabulary file written by 'vislang vocab'")
    p.add_argument("--encoding", choices=("hard", "soft", "vlad"), default="hard")
    p.add_argument(
        "--pyramid", type=_int_list, default=(1,), help="spatial pyramid grids, e.g. 1,2"
    )
    p.add_argument("--weighting", choices=("none", "tfidf"), default="none")
    p.add_argument("--norm", choices=("l2", "l1", "power", "none"), default="l2")
    p.add_argument("--soft-k", type=_positive_int, default=5, help="words per descriptor (soft, 5)")
    p.add_argument("--out", required=True, help="codes file (.npy)")
    p.set_defaults(handler=_commands.encode)

    p = sub.add_parser(
        "train",
        parents=[torch_opts],
        add_help=False,
        help="train a model from a TOML config",
        description="Train a model from a TOML config. Models: " + ", ".join(list_runners()) + ".",
    )
    p.add_argument("name", nargs="?", choices=list_runners(), metavar="NAME", help="the model")
    p.add_argument("-h", "--help", action="store_true", help="this help + the model's options")
    p.add_argument("--list", action="store_true", help="list the models and their options")
    p.add_argument("--config", metavar="FILE.toml", help="the configuration (TOML)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config entry: section.key=value (TOML value); repeatable",
    )
    p.add_argument("--out", metavar="DIR", help="output folder (default runs/NAME)")
    # --seed overrides the config's train.seed only when given (the config's seed otherwise).
    p.set_defaults(handler=_commands.train, seed=None)

    p = sub.add_parser("eval", help="evaluate embeddings or word vectors")
    esub = p.add_subparsers(dest="eval_command", metavar="TASK", parser_class=_Parser)
    esub.required = True
    q = esub.add_parser(
        "retrieval",
        parents=[plain],
        help="cross-modal retrieval: recall@K, median / mean rank",
        description="Rank texts for each image and images for each text by dot product.",
    )
    q.add_argument("--images", required=True, help="image embeddings .npy (n_images, dim)")
    q.add_argument("--texts", required=True, help="text embeddings .npy (n_texts, dim)")
    q.add_argument(
        "--text-to-image", required=True, help="image index of each text .npy (n_texts,)"
    )
    q.add_argument("--ks", type=_int_list, default=(1, 5, 10), help="recall cut-offs (1,5,10)")
    q.add_argument("--folds", type=_positive_int, default=1, help="average over N image folds")
    q.add_argument("--out", help="also write the result as JSON to this file")
    q.set_defaults(handler=_commands.eval_retrieval)
    q = esub.add_parser(
        "similarity",
        parents=[plain],
        help="word similarity: Spearman rho against human scores",
        description="Score word pairs by cosine and correlate with human judgements.",
    )
    q.add_argument(
        "--vectors",
        required=True,
        help="word-vector file, or 'glove-6b-50d' for the bundled GloVe vectors",
    )
    q.add_argument(
        "--format",
        choices=("auto", "glove", "word2vec", "word2vec-bin", "npz"),
        default="auto",
        help="vector file format (default: guessed)",
    )
    q.add_argument(
        "--pairs",
        required=True,
        help="simlex999 | wordsim353 (from gensim's test data) | men | a word-pair file",
    )
    q.add_argument(
        "--pairs-format",
        choices=("auto", "simlex999", "wordsim353", "men", "generic"),
        default="auto",
        help="format of a --pairs file (default: from its name, else 'word1 word2 score')",
    )
    q.add_argument("--lower", action="store_true", help="lower-case the benchmark words")
    q.add_argument("--case-insensitive", action="store_true", help="fall back to lower-cased words")
    q.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap resamples for the CI (0: none)"
    )
    q.add_argument("--out", help="also write the result as JSON to this file")
    q.set_defaults(handler=_commands.eval_similarity)

    p = sub.add_parser(
        "demo",
        parents=[torch_opts],
        help="run the demo on built-in data and write an HTML report",
        description="Run vislang end to end on data it generates or that ships with its "
        "dependencies; writes DIR/report.html and DIR/metrics.json.",
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes (seconds), for tests")
    p.add_argument("--out", metavar="DIR", help="output folder (default ./vislang-demo-out)")
    p.set_defaults(handler=_commands.demo)
    _caption.add_parser(sub, [torch_opts])
    return parser


def _fail(message: str, code: int) -> int:
    line = " ".join(str(message).split()) or "unknown error"
    print(f"{PROG}: error: {line}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the ``vislang`` command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default ``sys.argv[1:]``).
    """
    from vislang.exceptions import VislangError

    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    prog = PROG
    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        subparser = _find_subparser(parser, args)
        prog = subparser.prog
        return int(args.handler(args, subparser))
    except SystemExit as e:  # --help / --version
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except CLIError as e:
        if debug:
            traceback.print_exc()
        message = str(e)
        if isinstance(e, UsageError) and "--help" not in message:
            message += f" (see '{prog} --help')"
        return _fail(message, e.exit_code)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except (VislangError, OSError, ValueError) as e:
        if debug:
            traceback.print_exc()
        return _fail(str(e) or type(e).__name__, 1)


def _find_subparser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> _Parser:
    """The parser of the chosen (sub)subcommand, for help and usage errors."""
    current: argparse.ArgumentParser = parser
    for dest in ("command", "eval_command"):
        name = getattr(args, dest, None)
        if name is None:
            continue
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction) and name in action.choices:
                current = action.choices[name]
                break
    assert isinstance(current, _Parser)
    return current
