"""The migrated schema can be spread over Citus by enterprise as docs/scaling.md says, without a redesign.

The statements in that page's SQL block are the layout. Citus refuses a primary or unique key of a distributed
table that leaves out its distribution column, and a foreign key other than one to a reference table or one
between colocated tables on that column; a table the block does not name has had no decision taken.
"""

import re
from dataclasses import dataclass, field

from sqlalchemy import text

from tests.serving import PROJECT

_TABLES = text("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
               "AND relkind IN ('r', 'p') AND NOT relispartition")
_COLUMNS = text("SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0 "
                "AND NOT a.attisdropped")
# Unique indexes, whether a constraint made them or not; an expression column has no name and holds nothing.
_UNIQUE = text("""
    SELECT t.relname, i.indexrelid::regclass::text,
           array(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey))
    FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
    WHERE i.indisunique AND t.relnamespace = 'public'::regnamespace AND NOT t.relispartition""")
_FOREIGN = text("""
    SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text,
           array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o),
           array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o)
    FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
    WHERE c.contype = 'f' AND c.conparentid = 0 AND t.relnamespace = 'public'::regnamespace""")


@dataclass
class Layout:
    distributed: dict[str, str] = field(default_factory=dict)  # table -> distribution column
    reference: set[str] = field(default_factory=set)
    coordinator: set[str] = field(default_factory=set)

    def named(self) -> set[str]:
        return set(self.distributed) | self.reference | self.coordinator


def documented_layout() -> Layout:
    page = (PROJECT / "docs" / "scaling.md").read_text(encoding="utf-8")
    section = page.split("## Distribution by enterprise", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sql\n(.*?)```", section, re.S)
    assert block is not None, "docs/scaling.md lost its distribution statements"
    layout = Layout()
    for line in block[1].splitlines():
        if line.startswith("-- kept on the coordinator:"):
            layout.coordinator |= {name.strip() for name in line.split(":", 1)[1].split(",")}
    for statement in block[1].split(";"):
        listed = re.search(r"ARRAY\[(.*?)\]", statement, re.S)
        tables = re.findall(r"'(\w+)'", listed[1]) if listed else []
        if "create_reference_table" in statement:
            layout.reference |= set(tables)
        elif distributed := re.search(r"create_distributed_table\((?:'(\w+)'|t), '(\w+)'", statement):
            for table in [distributed[1]] if distributed[1] else tables:
                layout.distributed[table] = distributed[2]
    return layout


def test_the_documented_layout_names_each_kind_of_table():
    """The parse itself: if it found nothing, every check below would pass on nothing."""
    layout = documented_layout()
    assert layout.distributed["movement"] == "enterprise_id" and layout.distributed["photo"] == "sha256"
    assert "movement_version" in layout.distributed and "enterprise" in layout.reference
    assert "gateway_key" in layout.coordinator
    assert not (set(layout.distributed) & layout.reference or layout.reference & layout.coordinator
                or set(layout.distributed) & layout.coordinator)


async def test_every_table_has_its_place_in_the_documented_layout(engine):
    async with engine.connect() as connection:
        tables = set((await connection.execute(_TABLES)).scalars())
    assert tables == documented_layout().named()


async def test_every_unique_key_of_a_distributed_table_holds_its_distribution_column(engine):
    layout = documented_layout()
    async with engine.connect() as connection:
        columns = {(table, column) for table, column in (await connection.execute(_COLUMNS)).all()}
        unique = (await connection.execute(_UNIQUE)).all()
    assert [(table, column) for table, column in layout.distributed.items() if (table, column) not in columns] == []
    keys = {table for table, _, _ in unique}
    assert set(layout.distributed) <= keys  # every distributed table has a key to check
    assert [(table, index, held) for table, index, held in unique
            if table in layout.distributed and layout.distributed[table] not in held] == []


async def test_every_foreign_key_is_one_citus_keeps(engine):
    layout = documented_layout()
    async with engine.connect() as connection:
        foreign = (await connection.execute(_FOREIGN)).all()

    def kept(source: str, target: str, pairs: list[tuple[str, str]]) -> bool:
        if target in layout.reference:
            return True  # a copy on every node: any table may refer to it
        if source in layout.distributed and target in layout.distributed:
            column = layout.distributed[source]
            return layout.distributed[target] == column and (column, column) in pairs
        return source in layout.coordinator and target in layout.coordinator

    assert foreign  # the versions' references to their current rows, the plants' to enterprise
    assert [name for name, source, target, columns, referenced in foreign
            if not kept(source, target, list(zip(columns, referenced, strict=True)))] == []
