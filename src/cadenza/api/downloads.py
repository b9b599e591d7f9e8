"""CSV files streamed to the caller as downloads (the API's and the UI's exports share this)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.responses import StreamingResponse


def csv_download(lines: Iterator[str], filename: str) -> StreamingResponse:
    """`lines` as an attachment named `filename`, never cached (exports hold personal data) nor sniffed."""
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
