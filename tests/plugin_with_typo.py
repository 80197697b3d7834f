"""A plugin whose hook name has a typo: docmill must report it, not crash."""

from docmill import hookimpl


@hookimpl
def docmill_register_sorces(register: object) -> None:
    pass
