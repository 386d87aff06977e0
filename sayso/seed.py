"""Realistic fake feedback for trying the dashboard and benchmarking it (``sayso seed``).

The same ``--seed`` gives the same feedback (timestamps are relative to now;
ids are always fresh).
Rows are generated oldest first and inserted in that order, as real traffic
would be, so rowids, ids and ``created_at`` all grow together. Inserts go
through the DBAPI directly in large batches — ``executemany`` on SQLite,
``COPY`` on PostgreSQL — with the same column encodings as the ingest writer
(``PreparedInsert``), so the rollup and search triggers see exactly what they
see in production.

Screenshots are listed on the feedback but no image is stored: the dashboard
shows their names and the image links answer 404. Replay ids point at nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from sayso.store.ids import new_sortable_id
from sayso.store.schema import feedback
from sayso.store.writer import PreparedInsert

BATCH_ROWS = 10_000
# Words any seeded project contains: the benchmark searches for a common one
# and a rare one.
COMMON_WORD = "page"
RARE_WORD = "quasar"
RARE_CHANCE = 0.00002  # about 20 comments per million


def _words(text: str) -> list[str]:
    return text.split()


# (language, weight, neutral words, words for bad ratings, words for good ratings)
_LANGUAGES = [
    (
        "en",
        60,
        _words(
            "the page when I try to click button load save export search the settings "
            "dashboard after every time this report menu form it again"
        ),
        _words("slow broken error crash stuck confusing missing fails blank timeout wrong"),
        _words("great love fast easy nice helpful clean smooth thanks perfect"),
    ),
    (
        "de",
        12,
        _words(
            "die Seite wenn ich auf den Knopf klicke laden speichern Export Suche "
            "Einstellungen Bericht Menü Formular wieder"
        ),
        _words("langsam kaputt Fehler Absturz hängt verwirrend fehlt leer falsch"),
        _words("super schnell einfach praktisch hilfreich übersichtlich danke toll"),
    ),
    (
        "fr",
        12,
        _words(
            "la page quand je clique sur le bouton charger enregistrer exporter recherche "
            "paramètres rapport menu formulaire encore"
        ),
        _words("lent cassé erreur plantage bloqué confus manquant vide délai"),
        _words("génial rapide facile pratique utile propre merci parfait"),
    ),
    (
        "es",
        10,
        _words(
            "la página cuando hago clic en el botón cargar guardar exportar búsqueda "
            "ajustes informe menú formulario otra vez"
        ),
        _words("lento roto error fallo atascado confuso falta vacío"),
        _words("genial rápido fácil útil limpio gracias perfecto"),
    ),
    (
        "pt",
        6,
        _words(
            "a página quando clico no botão carregar salvar exportar pesquisa "
            "configurações relatório menu formulário de novo"
        ),
        _words("lento quebrado erro travou confuso falta vazio"),
        _words("ótimo rápido fácil útil limpo obrigado perfeito"),
    ),
]
_FIRST = _words(
    "ana bea cy dan eva finn gus hana ivan jo kai lea max nia omar pia quinn "
    "rosa sam tara uma vic wen xia yara zoe"
)
_LAST = _words("smith garcia mueller martin rossi kowalski silva dubois lee novak")
_DOMAINS = ["example.com", "example.org", "mail.example", "corp.example", "uni.example"]
_SECTIONS = [
    "projects",
    "settings",
    "billing",
    "reports",
    "search",
    "team",
    "integrations",
    "docs",
    "checkout",
    "orders",
]
_USER_AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/18.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
]
_RATINGS = [None, 1, 2, 3, 4]
_RATING_WEIGHTS = [8, 9, 13, 35, 35]
_ENVIRONMENTS = ["production", "staging", None]
_ENVIRONMENT_WEIGHTS = [60, 15, 25]
ORIGIN = "https://app.example.com"


class Generator:
    """Fake feedback rows for one project, oldest first."""

    def __init__(self, client_id: str, rows: int, days: int, seed: int, now: datetime) -> None:
        self.client_id = client_id
        self.rows = rows
        self.rng = random.Random(seed)
        self.end = now
        self.start = now - timedelta(days=days)
        rng = self.rng
        people = max(20, min(5000, rows // 100))
        self.emails = [
            f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{n}@{rng.choice(_DOMAINS)}"
            for n in range(people)
        ]
        self.pages = [
            f"{ORIGIN}/{section}/{n}" if n else f"{ORIGIN}/{section}"
            for section in _SECTIONS
            for n in range(30)
        ]
        self.languages = [lang[1:] for lang in _LANGUAGES]
        self.language_weights = [lang[1] for lang in _LANGUAGES]

    def _skewed(self, items: list[str]) -> str:
        # Squaring a uniform number favours the front of the list: a few pages
        # and people account for most feedback, as in real projects.
        return items[int(len(items) * self.rng.random() ** 2)]

    def _comment(self, rating: int | None) -> str | None:
        rng = self.rng
        if rng.random() < 0.3:
            return None
        _, neutral, bad, good = rng.choices(self.languages, self.language_weights)[0]
        words = rng.choices(neutral, k=rng.randint(3, 20))
        tone = bad if rating is not None and rating <= 2 else good
        for _ in range(rng.randint(1, 3)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(tone))
        if rng.random() < RARE_CHANCE:
            words.append(RARE_WORD)
        sentence = " ".join(words)
        return sentence[0].upper() + sentence[1:] + rng.choice((".", "!", "", "?"))

    def _row(self, at: datetime) -> dict[str, Any]:
        rng = self.rng
        rating = rng.choices(_RATINGS, _RATING_WEIGHTS)[0]
        page = self._skewed(self.pages)
        roll = rng.random()
        if roll < 0.15:
            page += f"?tab={rng.randint(1, 5)}"
        elif roll < 0.2:
            page += "#details"
        email = self._skewed(self.emails) if rng.random() < 0.75 else None
        if email and rng.random() < 0.1:
            email = email.capitalize()  # the same person, typed differently
        # Ids stay random (unique across seeds); only the content repeats.
        row_id = new_sortable_id(int(at.timestamp() * 1000))
        screenshots = None
        if rng.random() < 0.05:
            name = f"{self.client_id}/{row_id}.png"
            screenshots = [
                {
                    "fileName": name,
                    "url": f"{ORIGIN}/api/screenshots/{name}",
                    "fileSize": rng.randint(40_000, 400_000),
                    "mimeType": "image/png",
                    "width": 1600,
                    "height": 1000,
                }
            ]
        replay = rng.random() < 0.08
        return {
            "id": row_id,
            "client_id": self.client_id,
            "created_at": at,
            "rating": rating,
            "comment": self._comment(rating),
            "user_email": email,
            "page_url": page,
            "page_title": page.rsplit("/", 2)[-2].capitalize() + " · App",
            "referrer": self._skewed(self.pages) if rng.random() < 0.4 else None,
            "environment": rng.choices(_ENVIRONMENTS, _ENVIRONMENT_WEIGHTS)[0],
            "screenshots": screenshots,
            "metadata": {
                "plan": rng.choice(("free", "pro", "team", "enterprise")),
                "appVersion": f"2.{rng.randint(0, 9)}.{rng.randint(0, 20)}",
                "locale": rng.choice(("en-GB", "en-US", "de-DE", "fr-FR", "es-ES", "pt-BR")),
                "seats": rng.randint(1, 200),
            },
            "session_replay_id": f"rec-{rng.getrandbits(64):016x}" if replay else None,
            "replay_offset_ms": rng.randint(0, 600_000) if replay else None,
            "origin": ORIGIN,
            "user_agent": rng.choice(_USER_AGENTS),
            "idempotency_key": None,
        }

    def __iter__(self) -> Iterator[dict[str, Any]]:
        span = (self.end - self.start).total_seconds()
        step = span / max(self.rows, 1)
        for i in range(self.rows):
            # One random moment in each slot: spread out, yet strictly in order.
            yield self._row(self.start + timedelta(seconds=(i + self.rng.random()) * step))


def seed_feedback(
    engine: Engine,
    client_id: str,
    rows: int,
    days: int = 90,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> int:
    """Insert ``rows`` fake feedback items for ``client_id``; returns how many were inserted."""
    statement = PreparedInsert(feedback, engine.dialect)
    generator = Generator(client_id, rows, days, seed, now or datetime.now(UTC))
    sqlite = engine.dialect.name == "sqlite"
    connection: Any = engine.raw_connection()
    inserted = 0
    try:
        cursor = connection.cursor()
        if sqlite:
            # Generated data can be generated again: no fsync per batch.
            cursor.execute("PRAGMA synchronous=OFF")
        batch: list[tuple[Any, ...]] = []
        for row in generator:
            batch.append(statement.params(row))
            if len(batch) == BATCH_ROWS:
                _insert(cursor, statement, batch)
                connection.commit()
                inserted += len(batch)
                if progress:
                    progress(len(batch))
                batch = []
        if batch:
            _insert(cursor, statement, batch)
            connection.commit()
            inserted += len(batch)
            if progress:
                progress(len(batch))
        if sqlite:
            cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()
    finally:
        connection.close()
    if not sqlite:
        # What autovacuum would do soon anyway: fresh planner statistics (the
        # full-text and filter estimates), and the dead row versions the
        # rollups' upserts left behind (one per batch and key) cleared away.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("feedback", "feedback_daily", "feedback_pages_daily", "feedback_people"):
                conn.execute(text(f"VACUUM ANALYZE {table}"))
    return inserted


def _insert(cursor: Any, statement: PreparedInsert, batch: list[tuple[Any, ...]]) -> None:
    if statement.copy_sql is None:
        cursor.executemany(statement.sql, batch)
    else:
        with cursor.copy(statement.copy_sql) as copy:
            for row in batch:
                copy.write_row(row)
