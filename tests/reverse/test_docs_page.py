"""The examples of docs/identify.md run and print what the page says (doctest of the page)."""

import doctest
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "identify.md"


def test_identify_page_examples():
    result = doctest.testfile(str(PAGE), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted >= 9 and result.failed == 0, result
