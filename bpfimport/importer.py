"""Placeholder: the meta-path finder lands here (see ARCHITECTURE)."""


def install() -> None:
    pass


def uninstall() -> None:
    pass
