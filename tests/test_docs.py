"""The documentation the repository carries: links that resolve inside it, and the record and code pages
covering every item and code the schemas define."""

import json
import re

from tests.serving import PROJECT

PAGES = [PROJECT / "README.md", PROJECT / "README.zh-CN.md", *sorted((PROJECT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_link_stays_inside_the_repository_and_resolves():
    for page in PAGES:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            assert "://" not in target and not target.startswith("/"), (page.name, target)
            path = target.split("#", 1)[0]
            if path:
                resolved = (page.parent / path).resolve()
                assert resolved.is_relative_to(PROJECT) and resolved.exists(), (page.name, target)


def test_the_readmes_point_at_each_other():
    assert "](README.zh-CN.md)" in (PROJECT / "README.md").read_text(encoding="utf-8")
    assert "](README.md)" in (PROJECT / "README.zh-CN.md").read_text(encoding="utf-8")


def test_the_records_page_names_every_item_of_every_record():
    page = (PROJECT / "docs" / "records.md").read_text(encoding="utf-8")
    for schema in sorted((PROJECT / "schemas").glob("*.record.json")):
        for key in json.loads(schema.read_text(encoding="utf-8"))["properties"]:
            assert f"| `{key}` |" in page, (schema.name, key)


def test_the_codes_page_explains_every_code():
    page = (PROJECT / "docs" / "codes.md").read_text(encoding="utf-8")
    for table in sorted((PROJECT / "schemas" / "codes").glob("*.json")):
        codes = json.loads(table.read_text(encoding="utf-8"))
        assert f'id="{table.stem}"' in page, table.name
        for code, label in codes.get("x-labels", {}).items():
            assert f"| `{code}` | {label} |" in page, (table.name, code)
