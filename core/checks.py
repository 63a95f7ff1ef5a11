"""The promise of every public core function: a result, or a ValueError that says what was
wrong - never a TypeError or an AttributeError from deep inside the arithmetic.

Each function validates the values it is given (ranges, sizes, names) and raises ValueError
itself; what it cannot foresee is a value of the wrong type (a None where a list belongs, a
dict where an Architecture belongs) or a number too large for numpy's integers. A module
ends with ``checked_module(__name__)``, which wraps each of its public functions so that those
errors reach the caller as a ValueError naming the function and the problem - the one kind of
error the pages catch and show (tests/test_core_properties.py feeds them random values).
"""

from __future__ import annotations

import errno
import functools
import inspect
import sys
import typing

import numpy as np

# What wrong-typed or out-of-range arguments raise on their way through Python and numpy.
ARGUMENT_ERRORS = (
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    OverflowError,
    ZeroDivisionError,
)


def _number_hints(function) -> set[str]:
    """Parameters annotated exactly int or float: a list or bytes passed there is refused
    before the call, since ``count * [..]`` or ``count * b".."`` would allocate first."""
    try:
        hints = typing.get_type_hints(function)
    except Exception:
        return set()
    return {k for k, v in hints.items() if v in (int, float) and k != "return"}


CONTAINERS = (bytes, bytearray, memoryview, list, tuple, dict, set, frozenset, np.ndarray)


def checked(function):
    """``function``, with no container accepted for a number and ARGUMENT_ERRORS turned into
    a ValueError (the original chained), as is a path too long for the disk."""
    signature, hints = None, None

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        nonlocal signature, hints
        if hints is None:
            signature, hints = inspect.signature(function), _number_hints(function)
        if hints:
            try:
                bound = signature.bind(*args, **kwargs).arguments
            except TypeError as error:
                raise ValueError(f"{function.__name__}(): {error}") from None
            for name in hints:
                if isinstance(bound.get(name), CONTAINERS):
                    raise ValueError(
                        f"{function.__name__}(): {name} should be a number, "
                        f"but the value passed is {bound[name]!r:.60}"
                    )
        try:
            return function(*args, **kwargs)
        except ARGUMENT_ERRORS as error:
            raise ValueError(
                f"{function.__name__}() cannot use these arguments: {error}"
            ) from error
        except OSError as error:
            if error.errno != errno.ENAMETOOLONG:
                raise
            raise ValueError(
                f"{function.__name__}(): a file name is longer than this disk allows"
            ) from error

    wrapper.checked = True
    return wrapper


def checked_module(name: str) -> None:
    """Wrap every public function defined in module ``name`` (plain or ``functools.cache``d)
    with ``checked``."""
    if not isinstance(name, str) or name not in sys.modules:
        raise ValueError(f"checked_module: {name!r} is not an imported module")
    module = sys.modules[name]
    for attr, value in list(vars(module).items()):
        inner = getattr(value, "__wrapped__", value)
        if (
            callable(value)
            and inspect.isfunction(inner)
            and inner.__module__ == name
            and not attr.startswith("_")
            and not getattr(value, "checked", False)
        ):
            setattr(module, attr, checked(value))
