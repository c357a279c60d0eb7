"""The platform's YAML files are parsed by libyaml's C parser, to the same objects as safe_load."""

import pytest
import yaml

from sme_platform.lib.config import yaml_text
from sme_platform.lib.config.yaml_text import load_yaml
from sme_platform.lib.project import REPO_ROOT

DOCUMENT = """
sources:
  sales_lines:
    path: "exports/sales_*.csv"   # a comment
    options: {delimiter: ";", header: true}
    keys: [order_id, line_no]
  prices: {path: prices.parquet, since: 2024-01-31, ratio: 0.5, note: ~}
"""


def test_the_c_parser_is_used_where_pyyaml_has_it():
    assert yaml.__with_libyaml__, "PyYAML's wheels ship libyaml; the lock file pins one"
    assert yaml_text._LOADER is yaml.CSafeLoader


def test_same_objects_as_safe_load():
    assert load_yaml(DOCUMENT) == yaml.safe_load(DOCUMENT)


def test_the_repository_yaml_files_parse_the_same():
    paths = [*REPO_ROOT.glob("*.yaml"), *REPO_ROOT.glob("examples/**/*.yaml")]
    assert len(paths) >= 3
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert load_yaml(text) == yaml.safe_load(text), path


@pytest.mark.parametrize("text", ["a: [1, 2", "a: b: c", "key: 'unclosed", "\tkey: tab"])
def test_bad_yaml_raises_yaml_error_with_its_line(text):
    with pytest.raises(yaml.YAMLError) as raised:
        load_yaml(text)
    assert "line" in str(raised.value)


def test_an_unsafe_tag_is_refused():
    with pytest.raises(yaml.constructor.ConstructorError):
        load_yaml("!!python/object/apply:os.system ['true']")


def test_a_key_written_twice_is_refused_naming_it_and_both_lines():
    text = "business:\n  service_level: 0.9\n  lead_time_days: 2\n  service_level: 0.5\n"
    with pytest.raises(yaml.YAMLError) as raised:
        load_yaml(text)
    message = str(raised.value)
    assert "found the key 'service_level' twice (first on line 2)" in message
    assert "line 4, column 3" in message


def test_the_same_key_in_two_mappings_is_not_a_duplicate():
    text = "a: {x: 1}\nb: {x: 2}\nc: [{x: 1}, {x: 2}]\n"
    assert load_yaml(text) == {"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 1}, {"x": 2}]}


def test_merge_keys_still_merge_and_may_be_overridden_without_a_duplicate():
    text = "base: &b {a: 1, c: 3}\nx:\n  <<: *b\n  a: 2\ny:\n  <<: [*b]\n  d: 4\n"
    assert load_yaml(text) == yaml.safe_load(text)
    assert load_yaml(text)["x"] == {"a": 2, "c": 3}


def test_an_unhashable_key_is_a_yaml_error_not_a_crash():
    with pytest.raises(yaml.YAMLError, match="found unhashable key"):
        load_yaml("? !!set {a: null}\n: 1\n")
