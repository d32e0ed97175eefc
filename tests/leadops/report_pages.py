"""Reading a rendered report page the way the browser test does, without a browser."""

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
FIELDS = ("section", "name", "key", "column")


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.stack: list[list[str] | None] = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        found = dict(attrs)
        row = None
        if "data-section" in found:
            row = [found.get(f"data-{name}") or "" for name in FIELDS] + [""]
            self.rows.append(row)
        self.stack.append(row)

    def handle_endtag(self, tag):
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for row in self.stack:
            if row is not None:
                row[4] += data


def page_rows(html: str) -> list[tuple[str, ...]]:
    """(section, name, key, column, text) of every element that shows a CSV row, in page order."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return [tuple(row) for row in reader.rows]


def unquote_formula(value: str) -> str:
    """The CSV quotes text that would start a spreadsheet formula ('=...); the page shows it as it is."""
    if value[:2] in {f"'{c}" for c in "=+-@\t\r"}:
        return value[1:]
    return value
