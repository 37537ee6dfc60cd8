"""The identity service's TokenValidator: decrypt, check against the database, build a context."""

from __future__ import annotations

from overcast.common.context import RequestContext
from overcast.common.db.session import Database
from overcast.identity import token_view
from overcast.identity.tokens import TokenFormatter


class IdentityValidator:
    def __init__(self, db: Database, formatter: TokenFormatter) -> None:
        self.db = db
        self.formatter = formatter

    async def validate(self, token: str) -> RequestContext:
        data = self.formatter.decode(token)
        async with self.db.reader() as session:
            view = await token_view.resolve(session, data)
        return view.context(token)
