"""Deprecation helpers (scikit-learn's ``_deprecate_positional_args``, typed)."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["keyword_only_options"]

P = ParamSpec("P")
R = TypeVar("R")


def keyword_only_options(version: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Accept, with a ``DeprecationWarning``, keyword-only options passed by position.

    For a function whose options became keyword-only: positional arguments past the
    positional parameters are bound, in order, to the keyword-only ones (which must keep
    their old positional order), and the warning says which names to write. From
    ``version`` on that will be a ``TypeError``.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        params = inspect.signature(func).parameters.values()
        n_positional = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
        kw_only = [p.name for p in params if p.kind == p.KEYWORD_ONLY]

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            extra = len(args) - n_positional
            if extra <= 0:
                return func(*args, **kwargs)
            if extra > len(kw_only):
                raise TypeError(
                    f"{func.__name__}() takes {n_positional} positional arguments but "
                    f"{len(args)} were given"
                )
            names = kw_only[:extra]
            for name in names:
                if name in kwargs:
                    raise TypeError(f"{func.__name__}() got multiple values for argument {name!r}")
            given = ", ".join(f"{n}={a!r}" for n, a in zip(names, args[n_positional:], strict=True))
            warnings.warn(
                f"Pass {given} as keyword arguments to {func.__name__}(): options passed by "
                f"position are deprecated and will be an error in vislang {version}.",
                DeprecationWarning,
                stacklevel=2,
            )
            kwargs.update(zip(names, args[n_positional:], strict=True))
            return func(*args[:n_positional], **kwargs)  # type: ignore[arg-type]

        return wrapper

    return decorate
