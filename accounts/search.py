"""The admin's search of names, folded: any case, any accent (`MULLER` finds
`müller`, `Muller` and `MÜLLER`). PostgreSQL folds both sides with
`search_fold(text)` (upper() of unaccent(), IMMUTABLE: accounts/sql/search_fold.sql),
so the trigram indexes on search_fold(username) and search_fold(display_name)
answer `field__foldcontains=term`, as `icontains` would be answered by an index
on upper()."""

from __future__ import annotations

from django.db import models
from django.db.models.lookups import Contains


@models.CharField.register_lookup
class FoldedContains(Contains):
    """`search_fold(field) LIKE search_fold('%term%')`: the term's `%`, `_` and
    `\\` escaped as Django's contains does; folding leaves them alone."""

    lookup_name = "foldcontains"

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        return (
            f"search_fold({lhs_sql}) LIKE search_fold({rhs_sql})",
            [*lhs_params, *rhs_params],
        )
