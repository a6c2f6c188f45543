"""`flask ledger list` and `flask ledger export`: the 整改台账 from the server's terminal."""
from pathlib import Path

import click

from ..exports import get_round
from ..models import Unit
from .models import LedgerEntry
from .outputs import ledger_docx, ledger_xlsx


@click.group("ledger")
def ledger_group():
    """List the 整改台账's entries; export a round's as .xlsx or .docx."""


def unit_option(text):
    """A unit by name or id, or None for every unit."""
    if not text:
        return None
    unit = Unit.get_or_none(Unit.name == text) or (Unit.get_or_none(Unit.id == int(text)) if text.isdigit() else None)
    if unit is None:
        raise click.ClickException(f"找不到单位「{text}」（单位名称或编号）")
    return unit.id


@ledger_group.command("list")
@click.option("--unit", "unit", default="", help="单位名称或编号（默认全部）")
@click.option("--status", type=click.Choice(list(LedgerEntry.STATUS_LABELS)), default=None,
              help="open 整改中，done 已完成，closed 已销号（默认全部）")
def ledger_list(unit, status):
    """One line per entry: id, round, unit, status, 完成时限, 问题."""
    for e in LedgerEntry.listed(Unit.select(Unit.id), unit_id=unit_option(unit), status=status):
        late = "（逾期）" if e.is_overdue else ""
        click.echo(f"{e.id}\t{e.round.title}\t{e.unit.name}\t{e.status_label}{late}\t"
                   f"{e.due.isoformat() if e.due else '—'}\t{e.problem}")


@ledger_group.command("export")
@click.option("--round", "round_id", type=int, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def ledger_export(round_id, output):
    """Write the round's entries: .xlsx (序号 | 单位 | 问题 | … | 状态) or an official-format .docx."""
    suffix = output.suffix.lower()
    if suffix not in (".xlsx", ".docx"):
        raise click.ClickException("输出文件应以 .xlsx 或 .docx 结尾")
    round_ = get_round(round_id)
    entries = list(LedgerEntry.listed(Unit.select(Unit.id), round_id=round_.id))
    output.write_bytes(ledger_xlsx(entries) if suffix == ".xlsx" else ledger_docx(round_, entries, (round_.office or Unit.root()).name))
    click.echo(f"已写入 {output}（{len(entries)} 项整改事项）")
