"""Public names of a package imported on first use (PEP 562), shared by its ``__init__`` modules.

A package lists where each public name lives and hands the module hooks to Python::

    __getattr__, __dir__ = attach(__name__, _WHERE, globals(), __all__)

A name is imported from its module the first time it is read, then kept in the package's
namespace, so later reads cost nothing. ``computed`` names are built by a function instead (a
version read from metadata, a plugin object). This module imports nothing at run time:
``import distributor`` must stay cheap.
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, MutableMapping
    from typing import Any
del TYPE_CHECKING

__all__ = ["attach"]


def attach(
    package: str,
    where: "Mapping[str, str]",
    namespace: "MutableMapping[str, Any]",
    public: "Iterable[str]",
    computed: "Mapping[str, Callable[[], Any]] | None" = None,
) -> "tuple[Callable[[str], Any], Callable[[], list[str]]]":
    """The ``__getattr__`` and ``__dir__`` of `package`.

    `where` maps each lazily imported name to its module; `computed` maps other names to the
    function that builds them. Any other name raises AttributeError like a plain module.
    """
    builders = dict(computed or {})

    def module_getattr(name: str) -> "Any":
        if name in builders:
            found = builders[name]()
        elif name in where:
            from importlib import import_module

            found = getattr(import_module(where[name]), name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = found
        return found

    names = frozenset(public)

    def module_dir() -> list[str]:
        return sorted({*namespace, *names})

    return module_getattr, module_dir
