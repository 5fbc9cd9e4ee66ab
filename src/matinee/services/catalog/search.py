"""Full-text search on each database's own engine, with typo-tolerant prefix matching.

Writes: :meth:`SearchIndex.reindex` runs in the same transaction as every change to a movie or
series. It writes the title's normalized text to ``catalog_search_docs`` (``name``, and
``body``: synopsis, genres, cast and characters) and its distinct terms to
``catalog_search_terms``; when the terms changed it moves ``catalog_search_state.generation``.
The engine's index follows ``catalog_search_docs`` by itself (migration 0004): FTS5 through
triggers on SQLite, a generated ``tsvector`` column on PostgreSQL, InnoDB FULLTEXT on MySQL.

Queries: the query is normalized the same way, each term corrected against the vocabulary
(:mod:`matinee.services.catalog.vocabulary`; every instance keeps a copy, reloaded when the
generation moves), and the engine is asked for documents holding, for every query term, a word
that starts with one of its corrections:

* SQLite FTS5: ``("stranger"*) AND ("thin"*)``, ranked by ``bm25`` with the name weighted 10;
* PostgreSQL: ``to_tsquery('simple', 'stranger:* & thin:*')``, ranked by ``ts_rank`` (name
  weight A, the rest B);
* MySQL/MariaDB: ``MATCH(name, body) AGAINST ('+(stranger*) +(thin*)' IN BOOLEAN MODE)``. Words
  shorter than ``innodb_ft_min_token_size`` are not in a FULLTEXT index, so a term with a
  correction that short (or one that starts a stopword, should the index have a stopword
  list) is matched with ``LIKE '% up%'`` on the text instead.

Titles whose name alone holds every term rank above the rest; then the engine's score, then
the name. :meth:`SearchIndex.hits` gives a subquery (doc_id, in_name, score) to join on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Integer, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from matinee.db.urls import Dialect
from matinee.services.catalog.models import SearchDoc, SearchState, SearchTerm, Title
from matinee.services.catalog.vocabulary import (
    MAX_TERM,
    Correction,
    Vocabulary,
    normalize,
    terms_of,
)

MAX_QUERY_TERMS = 8  # a longer query is cut: nobody types more words into a search box
MYSQL_DEFAULT_MIN_TOKEN = 3
# InnoDB's default stopword list. Migration 0004 builds its indexes without stopwords, but an
# index rebuilt elsewhere may have them; a term that starts one of these words is matched with
# LIKE, so it is found either way.
_STOPWORDS = (
    "a about an are as at be by com de en for from how i in is it la of on or that the this to"
    " was what when where who will with und www"
)
INNODB_STOPWORDS = frozenset(_STOPWORDS.split())


@dataclass(frozen=True)
class SearchQuery:
    """A query as the engines see it: for every term, the prefixes that may match it."""

    text: str
    corrections: tuple[Correction, ...]

    @property
    def empty(self) -> bool:
        return not self.corrections

    @property
    def groups(self) -> list[tuple[str, ...]]:
        return [c.prefixes for c in self.corrections]


def search_text(title: Title, genres: Sequence[str], people: Sequence[str]) -> tuple[str, str]:
    """(name, body) of a title in normal form."""
    body = " ".join([title.synopsis, *genres, *people])
    return normalize(title.name), normalize(body)


class SearchIndex:
    """Keeps the search tables in step with the titles and asks the engine."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._generation: int | None = None
        self._vocabulary = Vocabulary(())
        self._lock = asyncio.Lock()
        self._min_token: int | None = None

    # --- writes ---------------------------------------------------------------------------

    async def reindex(
        self, session: AsyncSession, title: Title, genres: Sequence[str], people: Sequence[str]
    ) -> None:
        """Write ``title``'s search text and terms (inside the caller's transaction)."""
        name, body = search_text(title, genres, people)
        doc = await session.scalar(select(SearchDoc).where(SearchDoc.title_id == title.id))
        if doc is None:
            session.add(SearchDoc(title_id=title.id, name=name, body=body))
        elif (doc.name, doc.body) != (name, body):
            doc.name, doc.body = name, body
        new = {t for t in terms_of(name, body) if len(t) <= MAX_TERM}
        rows = await session.scalars(select(SearchTerm.term).where(SearchTerm.title_id == title.id))
        old = set(rows.all())
        if new == old:
            await session.flush()
            return
        if old - new:
            await session.execute(
                delete(SearchTerm).where(
                    SearchTerm.title_id == title.id, SearchTerm.term.in_(sorted(old - new))
                )
            )
        session.add_all(SearchTerm(term=t, title_id=title.id) for t in sorted(new - old))
        await session.execute(
            update(SearchState)
            .where(SearchState.id == 1)
            .values(generation=SearchState.generation + 1)
        )
        await session.flush()

    # --- queries --------------------------------------------------------------------------

    async def vocabulary(self, session: AsyncSession) -> Vocabulary:
        """This instance's copy of the vocabulary, reloaded when another write moved it."""
        generation = await session.scalar(select(SearchState.generation).where(SearchState.id == 1))
        if generation == self._generation:
            return self._vocabulary
        async with self._lock:
            if generation != self._generation:
                terms = await session.scalars(select(SearchTerm.term).distinct())
                self._vocabulary = Vocabulary(terms.all())
                self._generation = generation
        return self._vocabulary

    async def parse(self, session: AsyncSession, text_: str) -> SearchQuery:
        """Normalize ``text_`` and correct every term against the vocabulary."""
        words = list(dict.fromkeys(normalize(text_).split()))[:MAX_QUERY_TERMS]
        if not words:
            return SearchQuery(text_, ())
        vocabulary = await self.vocabulary(session)
        return SearchQuery(text_, tuple(vocabulary.correct(w[:MAX_TERM]) for w in words))

    async def hits(self, session: AsyncSession, query: SearchQuery) -> tuple[Subquery, bool]:
        """The matching documents as a subquery (doc_id, in_name, score), and whether a higher
        score is better (bm25 is lower for better matches)."""
        if self.dialect == "sqlite":
            return _sqlite_hits(query), False
        if self.dialect == "postgresql":
            return _postgres_hits(query), True
        return _mysql_hits(query, await self._mysql_min_token(session)), True

    async def _mysql_min_token(self, session: AsyncSession) -> int:
        if self._min_token is None:
            value = await session.scalar(text("SELECT @@innodb_ft_min_token_size"))
            self._min_token = int(value) if value is not None else MYSQL_DEFAULT_MIN_TOKEN
        return self._min_token


_COLUMNS = {"doc_id": Integer, "in_name": Integer, "score": Float}


def _fts5(groups: list[tuple[str, ...]]) -> str:
    parts = (" OR ".join(f'"{p}"*' for p in group) for group in groups)
    return " AND ".join(f"({part})" for part in parts)


def _sqlite_hits(query: SearchQuery) -> Subquery:
    match = _fts5(query.groups)
    sql = text(
        "SELECT rowid AS doc_id,"
        " rowid IN (SELECT rowid FROM catalog_search WHERE catalog_search MATCH :in_name)"
        " AS in_name,"
        " bm25(catalog_search, 10.0, 1.0) AS score"  # the name weighs 10 times the rest
        " FROM catalog_search WHERE catalog_search MATCH :match"
    )
    bound = sql.bindparams(match=match, in_name=f"name : ({match})")
    return bound.columns(**_COLUMNS).subquery("hits")


def _tsquery(groups: list[tuple[str, ...]], weight: str = "") -> str:
    parts = (" | ".join(f"{p}:*{weight}" for p in group) for group in groups)
    return " & ".join(f"({part})" for part in parts)


def _postgres_hits(query: SearchQuery) -> Subquery:
    sql = text(
        "SELECT id AS doc_id,"
        " CAST(document @@ to_tsquery('simple', :in_name) AS INTEGER) AS in_name,"
        " ts_rank(document, to_tsquery('simple', :match)) AS score"
        " FROM catalog_search_docs WHERE document @@ to_tsquery('simple', :match)"
    )
    bound = sql.bindparams(match=_tsquery(query.groups), in_name=_tsquery(query.groups, "A"))
    return bound.columns(**_COLUMNS).subquery("hits")


def _mysql_hits(query: SearchQuery, min_token: int) -> Subquery:
    """FULLTEXT for groups whose prefixes are all long enough to be indexed words and start no
    stopword, LIKE on the space-padded text for the others."""

    def indexable(prefix: str) -> bool:
        return len(prefix) >= min_token and not any(w.startswith(prefix) for w in INNODB_STOPWORDS)

    indexed = [g for g in query.groups if all(indexable(p) for p in g)]
    short = [g for g in query.groups if g not in indexed]
    params: dict[str, str] = {}
    where: list[str] = []
    in_name: list[str] = []
    score = "0"
    if indexed:
        params["match"] = " ".join("+(" + " ".join(f"{p}*" for p in g) + ")" for g in indexed)
        where.append("MATCH(name, body) AGAINST (:match IN BOOLEAN MODE)")
        in_name.append("MATCH(name) AGAINST (:match IN BOOLEAN MODE) > 0")
        score = "MATCH(name, body) AGAINST (:match IN BOOLEAN MODE)"
    for i, group in enumerate(short):
        names = []
        for j, prefix in enumerate(group):
            params[f"like_{i}_{j}"] = f"% {prefix}%"
            names.append(f":like_{i}_{j}")
        where.append(
            "(" + " OR ".join(f"CONCAT(' ', name, ' ', body) LIKE {n}" for n in names) + ")"
        )
        in_name.append("(" + " OR ".join(f"CONCAT(' ', name) LIKE {n}" for n in names) + ")")
    # Only placeholders and this function's own SQL fragments go into the text.
    sql = " ".join(
        [
            "SELECT id AS doc_id,",
            f"CASE WHEN {' AND '.join(in_name)} THEN 1 ELSE 0 END AS in_name,",
            f"{score} AS score",
            "FROM catalog_search_docs WHERE",
            " AND ".join(where),
        ]
    )
    return text(sql).bindparams(**params).columns(**_COLUMNS).subquery("hits")


def ranking(hits: Subquery, higher_is_better: bool) -> list[ColumnElement[Any]]:
    """ORDER BY terms: name matches first, then the engine's score, then the name."""
    score = hits.c.score.desc() if higher_is_better else hits.c.score.asc()
    return [hits.c.in_name.desc(), score, Title.sort_name.asc(), Title.id.asc()]
