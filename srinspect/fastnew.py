"""Fast constructors for the frozen, slotted dataclasses made by the million (Frame, Finding).

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; calling
the slot descriptors directly reaches the same end state in about half the time, which is
measurable when a capture yields millions of frames or findings. The constructor is
generated once per class, the way ``dataclasses`` itself generates ``__init__``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def frozen_constructor(cls: type[T]) -> Callable[..., T]:
    """A function taking the same arguments as ``cls(...)`` (positional or keyword, same
    defaults) and returning an equal instance. Falls back to ``cls`` itself for a class it
    cannot mirror exactly: no ``__slots__``, a ``__post_init__``, or a default factory."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if not hasattr(cls, "__slots__") or hasattr(cls, "__post_init__") or any(
            f.default_factory is not dataclasses.MISSING or not f.init for f in fields):
        return cls
    ns: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    params, body = [], []
    for i, f in enumerate(fields):
        ns[f"_set{i}"] = getattr(cls, f.name).__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            ns[f"_default{i}"] = f.default
            params.append(f"{f.name}=_default{i}")
        body.append(f"    _set{i}(obj, {f.name})\n")
    src = (f"def new_{cls.__name__}({', '.join(params)}):\n    obj = _new(_cls)\n"
           + "".join(body) + "    return obj\n")
    exec(src, ns)  # noqa: S102 - source built above from field names only
    return ns[f"new_{cls.__name__}"]  # type: ignore[no-any-return]
