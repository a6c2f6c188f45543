"""`flask --app app type …`: the report types from the command line.

The `type` group lives here so every command about types (list, and the
字段表's export and import) sits in one place.
"""
import click

from ..models import ReportTypeRecord


@click.group("type")
def type_group():
    """List report types; export and import their 字段表."""


@type_group.command("list")
def type_list():
    """One line per type: id, name, newest version, rounds using it."""
    for record in ReportTypeRecord.ordered():
        rounds = [f"{r.id} {r.title}" for r in record.rounds_using()]
        state = "（已停用）" if record.retired else ""
        click.echo(f"{record.id}\t{record.name}{state}\t第 {record.newest_version().number} 版\t"
                   + ("使用它的轮次：" + "；".join(rounds) if rounds else "尚无轮次使用"))
