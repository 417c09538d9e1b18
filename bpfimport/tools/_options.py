"""The tools' command lines: argparse's behaviour without argparse's start-up cost.

``import argparse`` and building a parser cost a tool ~8-10 ms of its start-up:
argparse imports ``re`` (and ``enum``), its first message looks up a gettext
catalogue (which imports ``locale``), and its help formatter imports
``shutil`` (with ``zlib``, ``bz2`` and ``lzma``).  bcc's tools take ~0.3 s to
attach and the issue's bar is a tenth of that, so this matters.

:class:`OptionParser` records the ``add_argument`` calls a tool makes (the
same calls, the same keywords) and parses a command line itself when it is
plainly valid: known options, values that do not start with ``-``, positionals
in one run.  Anything else -- ``-h``, an unknown or abbreviated option, a bad
value, a missing argument, two options of an exclusive group, ``--`` -- is
handed to a real ``argparse.ArgumentParser`` built from the recorded calls,
which prints the help or the error exactly as it always did (or parses what
it accepts that the fast path does not try, such as ``--pi 5`` for ``--pid``).
So argparse stays the reference: the fast path either gives the namespace
argparse would give or steps aside, and ``tests/tools/test_options.py``
checks that on generated command lines.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any, NoReturn

# add_argument keywords the fast path understands; any other makes it step aside for good
_KEYWORDS = frozenset({"action", "type", "default", "dest", "metavar", "help", "nargs", "const",
                       "choices", "required"})
_ACTIONS = {None: "store", "store": "store", "store_true": "store_true",
            "store_false": "store_false"}
_ABSENT = {"store_true": False, "store_false": True}  # an absent option's value (else None)
# ArgumentParser keywords it understands (the rest change parsing: prefix_chars, allow_abbrev...)
_PARSER_KEYWORDS = frozenset({"prog", "description", "epilog"})


class Namespace:
    """The parsed options, as attributes (``args.pid``); compares like ``argparse.Namespace``."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __eq__(self, other: object) -> bool:
        return vars(self) == vars(other) if hasattr(other, "__dict__") else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __contains__(self, name: str) -> bool:
        return name in self.__dict__

    def __repr__(self) -> str:
        return "Namespace(" + ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items()) + ")"

    if TYPE_CHECKING:
        def __getattr__(self, name: str) -> Any: ...  # any option a tool declared

        def __setattr__(self, name: str, value: Any) -> None: ...  # tools derive some


class _Argument:
    """One ``add_argument`` call, as the fast path reads it."""

    def __init__(self, flags: tuple[str, ...], kwargs: dict[str, Any], group: int | None) -> None:
        self.flags = flags
        self.group = group
        self.action = _ACTIONS.get(kwargs.get("action"), "")  # "" = not understood
        self.nargs = kwargs.get("nargs")
        self.type: Callable[[str], Any] | None = kwargs.get("type")
        self.choices = kwargs.get("choices")
        self.required = bool(kwargs.get("required", False))
        self.positional = bool(flags) and not flags[0].startswith("-")
        if self.positional:
            self.dest = flags[0]
        else:  # as argparse names it: the first long option, else the first, "-" as "_"
            longs = [f[2:] for f in flags if f.startswith("--")]
            derived = (longs[0] if longs else flags[0][1:]).replace("-", "_")
            self.dest = kwargs.get("dest") or derived
        self.default = kwargs.get("default", _ABSENT.get(self.action))
        self.understood = (set(kwargs) <= _KEYWORDS and bool(self.action) and bool(flags)
                           and (self.nargs in (None, "?") and group is None if self.positional
                                else all(len(f) == 2 or f.startswith("--") for f in flags)))

    @property
    def takes_value(self) -> bool:
        return self.action == "store"

    def convert(self, text: str) -> Any:
        """``type(text)``, checked against ``choices``; :class:`_StepAside` where argparse
        would report an error (it then reports it, with its own words)."""
        try:
            value = self.type(text) if self.type is not None else text
        except Exception:  # argparse's ArgumentTypeError/ValueError/TypeError; it re-raises others
            raise _StepAside from None
        if self.choices is not None and value not in self.choices:
            raise _StepAside
        return value

    def default_value(self) -> Any:
        """The value when absent: argparse converts a string default with ``type``."""
        if isinstance(self.default, str) and self.type is not None:
            return self.convert(self.default)
        return self.default


class _StepAside(Exception):
    """The fast path does not decide this command line: argparse does."""


class _Group:
    """A mutually exclusive group: ``add_argument`` into the parser, tagged with the group."""

    def __init__(self, parser: OptionParser, index: int) -> None:
        self._parser = parser
        self._index = index

    def add_argument(self, *flags: str, **kwargs: Any) -> None:
        self._parser._add(flags, kwargs, self._index)


class OptionParser:
    """``argparse.ArgumentParser``'s ``add_argument``/``parse_args``/``error`` for the tools."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._calls: list[tuple[tuple[str, ...], dict[str, Any], int | None]] = []
        self._groups: list[bool] = []  # required?
        self._arguments: list[_Argument] = []
        self._understood = set(kwargs) <= _PARSER_KEYWORDS
        self._argparse: argparse.ArgumentParser | None = None

    # ------------------------------------------------------------ declaring

    def add_argument(self, *flags: str, **kwargs: Any) -> None:
        self._add(flags, kwargs, None)

    def add_mutually_exclusive_group(self, required: bool = False) -> _Group:
        self._groups.append(required)
        return _Group(self, len(self._groups) - 1)

    def _add(self, flags: tuple[str, ...], kwargs: dict[str, Any], group: int | None) -> None:
        self._calls.append((flags, kwargs, group))
        argument = _Argument(flags, kwargs, group)
        self._understood &= argument.understood and not {"-h", "--help"} & set(flags)
        self._arguments.append(argument)
        self._argparse = None

    # ------------------------------------------------------------ parsing

    def parse_args(self, argv: Sequence[str] | None = None) -> Namespace:
        args = list(sys.argv[1:] if argv is None else argv)
        if self._understood:
            try:
                return Namespace(**self._fast(args))
            except _StepAside:
                pass
        return Namespace(**vars(self.argparse().parse_args(args)))

    def error(self, message: str) -> NoReturn:
        """Usage and ``message`` on stderr, exit status 2 (argparse's ``error``)."""
        self.argparse().error(message)

    def argparse(self) -> argparse.ArgumentParser:
        """The real parser, built from the recorded calls (help, errors, anything unusual)."""
        if self._argparse is None:
            import argparse

            # bcc's layout: the description's and the examples' line breaks kept
            parser = argparse.ArgumentParser(
                **{"formatter_class": argparse.RawDescriptionHelpFormatter, **self._kwargs})
            groups = [parser.add_mutually_exclusive_group(required=r) for r in self._groups]
            for flags, kwargs, group in self._calls:
                (parser if group is None else groups[group]).add_argument(*flags, **kwargs)
            self._argparse = parser
        return self._argparse

    def _fast(self, argv: list[str]) -> dict[str, Any]:
        """The namespace argparse would give for ``argv``, or :class:`_StepAside`."""
        options = {flag: a for a in self._arguments if not a.positional for flag in a.flags}
        positionals = [a for a in self._arguments if a.positional]
        values: dict[str, Any] = {}
        given: list[_Argument] = []
        words: list[str] = []
        run_ended = False  # positionals must come in one run, as argparse takes them
        i = 0
        while i < len(argv):
            word = argv[i]
            i += 1
            if not word.startswith("-") or word == "-":
                if run_ended:
                    raise _StepAside
                words.append(word)
                continue
            if words:
                run_ended = True
            if word.startswith("--"):
                name, eq, inline = word.partition("=")
                argument = options.get(name)
                if argument is None or (eq and not argument.takes_value):
                    raise _StepAside  # unknown, abbreviated, "--", "--help", "--flag=x"
                i = self._take(argument, inline if eq else None, argv, i, values, given)
                continue
            if "=" in word:
                raise _StepAside
            for j in range(1, len(word)):  # a cluster: -mTi 5, -p181
                argument = options.get("-" + word[j])
                if argument is None:
                    raise _StepAside  # unknown, -h, a negative number
                if argument.takes_value:
                    i = self._take(argument, word[j + 1:] or None, argv, i, values, given)
                    break
                self._take(argument, None, argv, i, values, given)
        self._check_groups(given)
        if len(words) > len(positionals) or any(p.required or p.nargs is None
                                                 for p in positionals[len(words):]):
            raise _StepAside  # too many, or a required one missing
        for argument, word in zip(positionals, words):
            values[argument.dest] = argument.convert(word)
        for argument in self._arguments:
            if argument.dest not in values:
                if argument.required and not argument.positional:
                    raise _StepAside
                values[argument.dest] = argument.default_value()
        return {a.dest: values[a.dest] for a in self._arguments}

    @staticmethod
    def _take(argument: _Argument, inline: str | None, argv: list[str], i: int,
              values: dict[str, Any], given: list[_Argument]) -> int:
        """Store one option's value; the index of the next word."""
        if argument.nargs is not None:
            raise _StepAside  # an optional value (-s [LIB]): argparse's to match
        if argument.takes_value:
            if inline is None:
                if i >= len(argv) or argv[i].startswith("-"):
                    raise _StepAside  # missing, or a value argparse may read as an option
                inline = argv[i]
                i += 1
            values[argument.dest] = argument.convert(inline)
        else:
            values[argument.dest] = argument.action == "store_true"
        given.append(argument)
        return i

    def _check_groups(self, given: list[_Argument]) -> None:
        for index, required in enumerate(self._groups):
            used = {id(a) for a in given if a.group == index}
            if len(used) > 1 or (required and not used):
                raise _StepAside


__all__ = ["Namespace", "OptionParser"]
