"""The WhatsApp templates to submit to Meta for approval, read from the notice kinds
registered at start-up (``hooks.NOTICE_KINDS``): name, category, language, body text with
its {{1}}... placeholders and quick-reply buttons, in Spanish and English.

``flask messaging templates`` prints them; ``--markdown`` prints the README's table and
``--write-readme`` puts that table in README.md between its two markers, so the README is
generated from the code and a test checks it lists every template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from marketplace.messaging import hooks

LOCALES = ("es", "en")
README_START = "<!-- plantillas de WhatsApp: inicio (flask messaging templates --write-readme) -->"
README_END = "<!-- plantillas de WhatsApp: fin -->"
README_PATH = Path(__file__).resolve().parent.parent.parent / "README.md"
# Meta's authentication template has a fixed body that Meta writes in each language.
FIXED_AUTH_TEXT = {
    "es": "*{{1}}* es tu código de verificación. (texto fijo de Meta)",
    "en": "*{{1}}* is your verification code. (Meta's fixed text)",
}


@dataclass
class TemplateRow:
    """One template as submitted to Meta, and the notice kinds that send it."""

    name: str
    category: str
    kinds: list[str]
    languages: dict[str, str]  # locale -> Meta language code ("es", "en_US")
    text: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, list[str]] = field(default_factory=dict)


def template_rows(config=None) -> list[TemplateRow]:
    """Every WhatsApp template the registered notice kinds use, once per name (several
    kinds may share one), sorted by name. A kind with no template (e-mail only) is left out.
    ``WHATSAPP_TEMPLATES`` renames a kind's template."""
    config = config if config is not None else current_app.config
    renamed = config.get("WHATSAPP_TEMPLATES") or {}
    languages = config.get("WHATSAPP_TEMPLATE_LANGUAGES") or {"es": "es", "en": "en_US"}
    rows: dict[str, TemplateRow] = {}
    for kind in sorted(hooks.NOTICE_KINDS.values(), key=lambda k: k.kind):
        name = renamed.get(kind.kind) or kind.template
        if not name:
            continue
        category = (getattr(kind, "template_category", None) or "utility").upper()
        row = rows.get(name)
        if row is None:
            text = dict(kind.template_text or {})
            if category == "AUTHENTICATION":
                text = {locale: text.get(locale) or FIXED_AUTH_TEXT[locale] for locale in LOCALES}
            row = rows[name] = TemplateRow(
                name, category, [], {locale: languages.get(locale, locale) for locale in LOCALES},
                text, {locale: list(titles) for locale, titles in (kind.template_buttons or {}).items()})
        row.kinds.append(kind.kind)
    return sorted(rows.values(), key=lambda r: r.name)


def filled(kind: str, locale: str, params: list | None) -> str | None:
    """What a phone shows for notice ``kind``'s template in ``locale`` with ``params`` in its
    placeholders, or None when the kind declares no template text."""
    notice_kind = hooks.NOTICE_KINDS.get(kind)
    if notice_kind is None or not notice_kind.template:
        return None
    language = "en" if (locale or "es").startswith("en") else "es"
    text = (notice_kind.template_text or {}).get(language)
    if not text and notice_kind.template_category == "authentication":
        text = FIXED_AUTH_TEXT[language]
    if not text:
        return None
    for index, value in enumerate(params or [], start=1):
        text = text.replace("{{" + str(index) + "}}", str(value))
    return text


def as_text(rows: list[TemplateRow]) -> str:
    lines = []
    for row in rows:
        lines.append(f"{row.name}  [{row.category}]  ({', '.join(row.kinds)})")
        for locale in LOCALES:
            lines.append(f"  {row.languages[locale]}: {row.text.get(locale) or '—'}")
            if row.buttons.get(locale):
                lines.append("      " + " ".join(f"[{title}]" for title in row.buttons[locale]))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def as_markdown(rows: list[TemplateRow]) -> str:
    """The README's table: one row per template and language."""
    lines = ["| template | category | language | notices | text | buttons |", "|---|---|---|---|---|---|"]
    for row in rows:
        for locale in LOCALES:
            buttons = " · ".join(row.buttons.get(locale, [])) or "—"
            lines.append(f"| `{row.name}` | {row.category} | `{row.languages[locale]}` | "
                         f"{', '.join(f'`{k}`' for k in row.kinds)} | {_cell(row.text.get(locale) or '—')} | "
                         f"{_cell(buttons)} |")
    return "\n".join(lines) + "\n"


def readme_block(readme: str) -> str:
    """What the README holds between its markers (empty when it has none)."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        return ""
    return readme[start + len(README_START):end]


def with_table(readme: str, table: str) -> str:
    """``readme`` with ``table`` between its markers."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise click.ClickException(f"README.md no tiene las marcas {README_START!r} y {README_END!r}.")
    return readme[:start + len(README_START)] + "\n" + table + readme[end:]


@click.command("templates")
@click.option("--markdown", is_flag=True, help="La tabla en Markdown, como va en el README.")
@click.option("--write-readme", is_flag=True, help="Escribir la tabla en README.md, entre sus marcas.")
@with_appcontext
def templates_command(markdown: bool, write_readme: bool) -> None:
    """Print the WhatsApp templates to submit to Meta: name, category, language, text with
    its placeholders and buttons, in Spanish and English."""
    rows = template_rows()
    if write_readme:
        README_PATH.write_text(with_table(README_PATH.read_text(encoding="utf-8"), as_markdown(rows)),
                               encoding="utf-8")
        click.echo(f"README.md: {len(rows)} plantillas.")
        return
    click.echo(as_markdown(rows) if markdown else as_text(rows), nl=False)
