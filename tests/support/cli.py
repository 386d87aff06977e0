"""Running ``sayso …`` in-process through click's ``CliRunner``, against one database."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from click.testing import CliRunner, Result

from sayso.cli import main
from sayso.settings import Settings


class Sayso:
    """Runs ``sayso …`` in-process against one database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runner = CliRunner(
            env={
                "SAYSO_DATA_DIR": str(settings.data_dir),
                "SAYSO_DATABASE_URL": settings.database_url,
            }
        )

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(main, list(args), catch_exceptions=False)

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.exit_code == 0, result.output
        return result.stdout

    def fails(self, *args: str) -> str:
        """Run a command that must fail; returns everything it printed."""
        result = self(*args)
        assert result.exit_code != 0, result.output
        return result.output

    def clients(self) -> dict[str, dict[str, Any]]:
        lines = self.ok("clients", "list", "--json").splitlines()
        return {record["id"]: record for record in map(json.loads, lines)}

    def origins(self, client_id: str) -> list[str]:
        return list(self.clients()[client_id]["allowedOrigins"])

    def export_jsonl(self, *args: str) -> list[dict[str, Any]]:
        result = self("feedback", "export", "--format", "jsonl", *args)
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.stdout_bytes.decode("utf-8").splitlines()]

    def export_csv(self, *args: str) -> list[list[str]]:
        result = self("feedback", "export", "--format", "csv", *args)
        assert result.exit_code == 0, result.output
        # The raw bytes: Result.stdout would turn the CSV's \r\n into \n.
        return list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline="")))
