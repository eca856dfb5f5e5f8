import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.services.rendering import (
    MAX_RENDERED_CHARACTERS,
    MissingVariablesError,
    RenderTooLargeError,
    placeholders,
    render,
    rendered_length,
)


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


@given(
    st.lists(st.sampled_from(["{a}", "{b}", "{{", "}}", "text ", "{", "}"]), max_size=30),
    st.text(max_size=20),
    st.text(max_size=20),
)
def test_the_rendered_length_is_known_before_rendering(parts: list[str], a: str, b: str) -> None:
    template = "".join(parts)
    assert rendered_length(template, {"a": a, "b": b}) == len(render(template, {"a": a, "b": b}))


def test_a_render_past_the_limit_is_refused_without_building_it() -> None:
    # 6,666 placeholders of a 1 MB value would be 6.7 GB of text.
    with pytest.raises(RenderTooLargeError) as refused:
        render("{a}" * 6_666, {"a": "x" * 1_000_000})
    assert refused.value.characters == 6_666 * 1_000_000
    assert len(render("{a}", {"a": "x" * MAX_RENDERED_CHARACTERS})) == MAX_RENDERED_CHARACTERS
