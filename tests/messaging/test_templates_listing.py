"""``flask messaging templates`` lists every WhatsApp template the registered notice kinds
use, and the README's table, generated from it, lists every one too."""

from __future__ import annotations

from marketplace.messaging import hooks, template_list


def _registered_names(app) -> set[str]:
    renamed = app.config["WHATSAPP_TEMPLATES"]
    return {renamed.get(k.kind) or k.template for k in hooks.NOTICE_KINDS.values()} - {""}


def test_the_command_prints_every_template_in_both_languages(app):
    result = app.test_cli_runner().invoke(args=["messaging", "templates"])
    assert result.exit_code == 0, result.output
    names = _registered_names(app)
    assert names  # the notice kinds registered at start-up
    for name in names:
        assert name in result.output
    languages = app.config["WHATSAPP_TEMPLATE_LANGUAGES"]
    for kind in hooks.NOTICE_KINDS.values():
        if kind.template and kind.template_category != "authentication":
            for locale in ("es", "en"):
                assert f"{languages[locale]}: {kind.template_text[locale]}" in result.output
            for titles in kind.template_buttons.values():
                assert " ".join(f"[{t}]" for t in titles) in result.output


def test_markdown_has_a_row_per_template_and_language(app):
    result = app.test_cli_runner().invoke(args=["messaging", "templates", "--markdown"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("| `")]
    assert len(rows) == 2 * len(_registered_names(app))


def test_a_renamed_template_is_listed_under_its_new_name(make_app):
    app = make_app(WHATSAPP_TEMPLATES={"new_order": "pedido_nuevo_v2"})
    with app.app_context():
        names = {row.name: row for row in template_list.template_rows()}
    assert "pedido_nuevo_v2" in names and "new_order" in names["pedido_nuevo_v2"].kinds


def test_the_readme_lists_every_registered_template(app):
    readme = template_list.README_PATH.read_text(encoding="utf-8")
    block = template_list.readme_block(readme)
    assert block.strip(), "README.md has lost its table of WhatsApp templates"
    missing = sorted(name for name in _registered_names(app) if f"`{name}`" not in block)
    assert not missing, f"README.md does not list {missing}: run flask messaging templates --write-readme"
    languages = app.config["WHATSAPP_TEMPLATE_LANGUAGES"]
    for name in _registered_names(app):
        for locale in ("es", "en"):
            assert f"| `{name}` | " in block and f"| `{languages[locale]}` |" in block


def test_writing_the_table_replaces_only_the_block():
    readme = f"antes\n{template_list.README_START}\nvieja\n{template_list.README_END}\ndespués\n"
    written = template_list.with_table(readme, "| nueva |\n")
    assert written == f"antes\n{template_list.README_START}\n| nueva |\n{template_list.README_END}\ndespués\n"
    assert template_list.readme_block(written) == "\n| nueva |\n"
