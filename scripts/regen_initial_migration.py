"""Regenerate migrations/versions/0001_initial_schema.py from the models.

Only while Cadenza has no release: once one ships, add new revisions with
`alembic revision --autogenerate` instead (see CONTRIBUTING.md).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from alembic import command

from cadenza.schema import MIGRATIONS, alembic_config

TARGET = MIGRATIONS / "versions" / "0001_initial_schema.py"


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        versions = Path(scratch) / "versions"
        versions.mkdir()
        config = alembic_config(f"sqlite:///{scratch}/empty.db")
        config.set_main_option("version_locations", str(versions))
        command.revision(config, message="initial schema", autogenerate=True, rev_id="0001",
                         version_path=str(versions))
        generated = next(versions.glob("0001_*.py"))
        tmp = TARGET.with_suffix(".tmp")
        tmp.write_text(generated.read_text())
        os.replace(tmp, TARGET)
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
