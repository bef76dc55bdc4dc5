"""The API's one error shape (config/api.py makes every error in it), for each
app's operations to document."""

from ninja import Schema


class ErrorOut(Schema):
    """Every error of the API: a short message."""

    error: str


class InvalidOut(ErrorOut):
    """A 422: `fields` names each bad field, with what is wrong with it."""

    fields: dict[str, str]
