import pytest

from app.services.rendering import MissingVariablesError, placeholders, render


def test_placeholders_in_order_of_first_use_without_escapes() -> None:
    template = "{b} and {a}, again {b}; {{literal}} and {{ {c} }}"
    assert placeholders(template) == ["b", "a", "c"]


def test_render_fills_and_unescapes() -> None:
    assert render("Hi {name}! {{x}}", {"name": "Ada", "unused": "z"}) == "Hi Ada! {x}"


def test_render_names_every_missing_variable() -> None:
    with pytest.raises(MissingVariablesError) as caught:
        render("{a} {b} {c}", {"b": "1"})
    assert caught.value.missing == ["a", "c"]


def test_attribute_access_is_not_a_placeholder() -> None:
    assert placeholders("{x.__class__} {y[0]}") == []
    assert render("{x.__class__}", {}) == "{x.__class__}"
