"""The forms of a name a person types at sign-in, and the one form stored."""

from __future__ import annotations

from django.conf import settings


def login_name(typed: str) -> str:
    """The stored form `\\domain\\name` of a name as typed at sign-in.

    `\\UNI\\jsmith` is already in it; `UNI\\jsmith` (what Windows shows) gains its
    leading backslash; `jsmith@uni.example.edu` becomes `\\uni\\jsmith` when a
    directory's DIRECTORY_<D>_UPN_SUFFIX is `uni.example.edu`. Anything else is
    returned as typed, and finds nobody. Case is kept: lookups ignore it.
    """
    if typed.count("\\") == 1 and not typed.startswith("\\"):
        return f"\\{typed}"
    if "\\" not in typed and typed.count("@") == 1:
        name, suffix = typed.split("@")
        for directory in settings.DIRECTORIES.values():
            if name and directory.upn_suffix == suffix.lower():
                return f"\\{directory.domain}\\{name}"
    return typed


def split(name: str) -> tuple[str, str] | None:
    """The domain and the user name of `\\domain\\name`, or None for another form."""
    parts = name.split("\\")
    if len(parts) != 3 or parts[0] or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]
