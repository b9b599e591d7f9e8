"""CSV files between the upload and the start of an import.

The import service previews without storing anything, and stores the file when the import is
created. Between those two steps (while a person checks the column mapping) the UI keeps the
upload here: one file per random token, named with its workspace, swept after a day.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import BinaryIO

from cadenza.core.errors import NotFound

TOKEN = re.compile(r"^[0-9a-f]{32}$")
MAX_AGE_SECONDS = 24 * 3600


class PendingUploads:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _paths(self, workspace_id: int, token: str) -> tuple[Path, Path]:
        if not TOKEN.match(token):
            raise NotFound("This upload has expired or never existed. Upload the file again.")
        base = self.directory / f"{int(workspace_id)}-{token}"
        return base.with_suffix(".csv"), base.with_suffix(".json")

    def save(self, workspace_id: int, source: BinaryIO, filename: str) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.sweep()
        token = secrets.token_hex(16)
        data, meta = self._paths(workspace_id, token)
        with data.open("wb") as stored:
            shutil.copyfileobj(source, stored, 1024 * 1024)
        meta.write_text(json.dumps({"filename": filename}))
        return token

    def open(self, workspace_id: int, token: str) -> tuple[BinaryIO, str]:
        """The stored file (caller closes it) and its original name."""
        data, meta = self._paths(workspace_id, token)
        if not data.exists() or not meta.exists():
            raise NotFound("This upload has expired or never existed. Upload the file again.")
        filename = str(json.loads(meta.read_text()).get("filename") or "upload.csv")
        return data.open("rb"), filename

    def size(self, workspace_id: int, token: str) -> int:
        data, _meta = self._paths(workspace_id, token)
        return data.stat().st_size if data.exists() else 0

    def discard(self, workspace_id: int, token: str) -> None:
        for path in self._paths(workspace_id, token):
            path.unlink(missing_ok=True)

    def sweep(self) -> None:
        cutoff = time.time() - MAX_AGE_SECONDS  # wall-clock: compared with file modification times
        for path in self.directory.glob("*-*.*"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
            except OSError:
                continue
