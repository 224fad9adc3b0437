"""Update a DataTable in place from fresh rows, so a live table neither flickers nor moves
the reader's cursor to another row (the Runs screen's batch and rollout tables)."""

from __future__ import annotations

from textual.widgets import DataTable


def sync_table(table: DataTable, rows: list[tuple[str, tuple]], columns: tuple[str, ...], rank_column: str) -> None:
    """Make ``table`` show ``rows`` (key, cells) in that order, in place: changed cells are
    updated by row key, new rows added, gone rows removed, and the cursor stays on the row
    key it was on (rows arriving above it do not move it to another rollout)."""
    at = None
    if table.row_count and 0 <= table.cursor_row < table.row_count:
        at = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    want = {key for key, _ in rows}
    for gone in [k for k in table.rows if k.value not in want]:
        table.remove_row(gone)
    for key, cells in rows:
        if key in table.rows:
            old = table.get_row(key)
            for col, new, was in zip(columns, cells, old):
                if str(new) != str(was) or getattr(new, "style", None) != getattr(was, "style", None):
                    table.update_cell(key, col, new, update_width=True)  # a longer value widens its column
        else:
            table.add_row(*cells, key=key)
    rank = {str(cells[columns.index(rank_column)]): i for i, (_, cells) in enumerate(rows)}
    table.sort(rank_column, key=lambda v: rank.get(str(v), len(rank)))
    if at is not None and at in table.rows:
        table.move_cursor(row=table.get_row_index(at), animate=False)
    elif table.row_count:
        table.move_cursor(row=min(table.cursor_row, table.row_count - 1), animate=False)
