import pytest

from policydiff.core.errors import InputError
from policydiff.sources.ingest.frontmatter import split_front_matter


def test_no_front_matter() -> None:
    assert split_front_matter("# Title\n\nText\n") == ({}, "# Title\n\nText\n")


def test_front_matter_stripped_and_values_kept_as_strings() -> None:
    text = (
        "---\n"
        "policy: koozali/privacy-policy\n"
        "captured: 2017-04-22T08:22:16Z\n"
        "effective: 2016-02-08\n"
        "source: https://example.com/privacy\n"
        "title: Privacy policy\n"
        "illustrative: true\n"
        "---\n"
        "\n"
        "# Privacy\n"
    )
    front, body = split_front_matter(text)
    assert front == {
        "policy": "koozali/privacy-policy",
        "captured": "2017-04-22T08:22:16Z",
        "effective": "2016-02-08",
        "source": "https://example.com/privacy",
        "title": "Privacy policy",
        "illustrative": True,
    }
    assert body == "# Privacy\n"


def test_dots_close_front_matter_and_numbers_become_strings() -> None:
    front, body = split_front_matter("---\ncaptured: 20170422082216\n...\nBody")
    assert front == {"captured": "20170422082216"}
    assert body == "Body"


def test_thematic_break_at_start_is_not_front_matter() -> None:
    text = "---\n\nSome text\n\n---\n\nMore text\n"
    assert split_front_matter(text) == ({}, text)


def test_setext_heading_after_break_is_not_front_matter() -> None:
    # A thematic break, then "Note: ..." underlined as a setext heading: YAML reads a
    # mapping, but with no known key, so it stays markdown.
    text = "---\nNote: this policy changed\n---\n\nText\n"
    assert split_front_matter(text) == ({}, text)


def test_unclosed_break_is_not_front_matter() -> None:
    text = "---\nJust a rule and a paragraph\n"
    assert split_front_matter(text) == ({}, text)


def test_dashes_not_on_first_line_are_ignored() -> None:
    text = "Intro\n---\npolicy: x\n---\n"
    assert split_front_matter(text) == ({}, text)


def test_prose_that_breaks_yaml_is_left_alone() -> None:
    text = "---\nWarning: this: is prose\n---\n"
    assert split_front_matter(text) == ({}, text)


def test_bad_yaml_is_input_error() -> None:
    with pytest.raises(InputError, match=r"invalid YAML front matter at line \d+: expected"):
        split_front_matter("---\npolicy: a/b\ncaptured: [2017\n---\nBody")


def test_unclosed_front_matter_is_input_error() -> None:
    with pytest.raises(InputError, match="no closing"):
        split_front_matter("---\npolicy: a/b\n\nBody text")


def test_unknown_key_is_input_error() -> None:
    with pytest.raises(InputError, match="unknown front matter key 'capturd'"):
        split_front_matter("---\npolicy: a/b\ncapturd: 2017-04-22\n---\nBody")


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("illustrative: yes please", "true or false"),
        ("policy: [a, b]", "must be a string"),
        ("policy: ''", "non-empty"),
    ],
)
def test_bad_value_types(yaml_text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        split_front_matter(f"---\n{yaml_text}\n---\nBody")
