"""Docker's --format handling: table directive, header row, tabwriter, json, inspect."""

from dataclasses import dataclass

import pytest

from pallet.cli.gotemplate import TemplateParseError, format_inspect, format_rows, header_name, render_table
from pallet.cli.gotemplate.tabwriter import TabWriter


@dataclass(frozen=True)
class ImageRow:
    ID: str
    Repository: str
    Tag: str
    Size: str

    def Label(self, key):
        return {"org.opencontainers.image.version": "1.25"}.get(key, "")


ROWS = [
    ImageRow("9c7a54a9a43c", "nginx", "latest", "187MB"),
    ImageRow("0123456789abcdef0123", "docker.io/library/busybox", "1.36", "4.26MB"),
]
DEFAULT = "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Size}}"
HEADERS = {"ID": "IMAGE ID"}


def test_default_table_aligns_columns_like_docker():
    # tabwriter(minwidth=10, padding=3): a column is its widest cell + 3, at least 10
    assert format_rows(None, ROWS, DEFAULT, HEADERS) == (
        "REPOSITORY                  TAG       IMAGE ID               SIZE\n"
        "nginx                       latest    9c7a54a9a43c           187MB\n"
        "docker.io/library/busybox   1.36      0123456789abcdef0123   4.26MB\n"
    )


def test_table_keyword_alone_means_the_default_table():
    assert format_rows("table", ROWS, DEFAULT, HEADERS) == format_rows(None, ROWS, DEFAULT, HEADERS)


def test_custom_table_from_the_shell_with_backslash_t():
    out = format_rows("table {{.ID}}\\t{{.Repository}}", ROWS[:1], DEFAULT, HEADERS)
    assert out == "IMAGE ID       REPOSITORY\n9c7a54a9a43c   nginx\n"


def test_empty_listing_still_prints_the_header():
    assert format_rows(None, [], "table {{.ID}}\\t{{.Size}}", HEADERS) == "IMAGE ID   SIZE\n"


def test_last_column_is_not_padded():
    out = format_rows("table {{.Tag}}\\t{{.Repository}}", ROWS, DEFAULT)
    assert all(not line.endswith(" ") for line in out.splitlines())


def test_non_table_format_prints_one_line_per_row():
    assert format_rows("{{.Repository}}:{{.Tag}}", ROWS, DEFAULT) == "nginx:latest\ndocker.io/library/busybox:1.36\n"


def test_non_table_format_is_not_aligned_but_tabs_are_expanded():
    assert format_rows("{{.Tag}}\\t{{.Size}}", ROWS[:1], DEFAULT) == "latest\t187MB\n"


def test_json_keyword_prints_each_row_as_json():
    rows = [{"ID": "abc", "Names": "web", "Ports": "0.0.0.0:80->80/tcp"}, {"ID": "def", "Names": "db", "Ports": ""}]
    assert format_rows("json", rows, DEFAULT) == (
        '{"ID":"abc","Names":"web","Ports":"0.0.0.0:80->80/tcp"}\n{"ID":"def","Names":"db","Ports":""}\n')


def test_header_functions_keep_column_names():
    rows = [{"Names": ["web", "web-alias"], "Image": "nginx"}]
    out = format_rows('table {{join .Names ","}}\\t{{.Image | upper}}\\t{{json .Image}}', rows, DEFAULT)
    assert out == 'NAMES           IMAGE     IMAGE\nweb,web-alias   NGINX     "nginx"\n'


def test_label_column_header_is_the_last_key_component():
    out = format_rows('table {{.Repository}}\\t{{.Label "org.opencontainers.image.version"}}', ROWS[:1], DEFAULT)
    assert out == "REPOSITORY   version\nnginx        1.25\n"


def test_index_column_is_headed_by_its_field():
    rows = [{"Names": ["web"], "Labels": {"tier": "front"}}]
    out = render_table('{{index .Names 0}}\t{{index .Labels "tier"}}', rows)
    assert out == "NAMES     LABELS\nweb       front\n"


def test_pad_is_applied_to_the_header_too():
    out = render_table("{{pad .Tag 1 1}}|", ROWS[:1])
    assert out == " TAG |\n latest |\n"


def test_stats_style_headers_from_the_caller():
    rows = [{"Container": "web", "CPUPerc": "0.07%", "MemUsage": "5.3MiB / 1.9GiB"}]
    headers = {"CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT"}
    out = render_table("table {{.Container}}\t{{.CPUPerc}}\t{{.MemUsage}}", rows, headers)
    assert out == ("CONTAINER   CPU %     MEM USAGE / LIMIT\n"
                   "web         0.07%     5.3MiB / 1.9GiB\n")


def test_nested_field_column_header():
    rows = [{"Config": {"Image": "nginx"}, "Name": "/web"}]
    assert render_table("{{.Name}}\t{{.Config.Image}}", rows) == "NAME      IMAGE\n/web      nginx\n"


@pytest.mark.parametrize("field, header", [
    ("ID", "ID"), ("CreatedAt", "CREATED AT"), ("CPUPerc", "CPU PERC"), ("PIDs", "PIDS"),
    ("LocalVolumes", "LOCAL VOLUMES"), ("NetIO", "NET IO"), ("Repository", "REPOSITORY"),
    ("RunningFor", "RUNNING FOR"), ("IPv4Address", "IPV4 ADDRESS"),
    ("IPAddress", "IP ADDRESS"), ("Names", "NAMES"),
])
def test_header_names_from_field_names(field, header):
    assert header_name(field) == header


def test_errors_are_wrapped_like_docker():
    with pytest.raises(TemplateParseError) as info:
        format_rows("{{.ID}", ROWS, DEFAULT)
    assert str(info.value) == 'template parsing error: template: :1: unexpected "}" in operand'


def test_tabwriter_column_blocks_break_at_lines_without_tabs():
    # Go: a column is a run of *adjacent* lines with a cell in it
    text = "a\tb\nccccccccccccc\tdd\nno tabs here\nx\ty\n"
    assert TabWriter().format(text) == (
        "a               b\nccccccccccccc   dd\nno tabs here\nx         y\n")


def test_tabwriter_counts_wide_characters_as_two_columns():
    assert TabWriter(minwidth=0, padding=1).format("日本\tx\nab\ty\n") == "日本 x\nab   y\n"


def test_tabwriter_empty_cells_are_padded():
    assert TabWriter(minwidth=4, padding=1).format("\tx\na\ty\n") == "    x\na   y\n"


def test_inspect_default_is_an_indented_json_array_with_html_escaping():
    out = format_inspect(None, [{"Name": "/web", "Cmd": ["sh", "-c", "a && b > c"], "Labels": {}}])
    assert out == (
        "[\n"
        "    {\n"
        '        "Cmd": [\n'
        '            "sh",\n'
        '            "-c",\n'
        '            "a \\u0026\\u0026 b \\u003e c"\n'
        "        ],\n"
        '        "Labels": {},\n'
        '        "Name": "/web"\n'
        "    }\n"
        "]\n")


def test_inspect_json_keyword_is_compact_and_empty_is_an_empty_array():
    assert format_inspect("json", [{"a": 1}, {"b": [True, None]}]) == '[{"a":1},{"b":[true,null]}]\n'
    assert format_inspect(None, []) == "[]\n"


def test_inspect_template_prints_a_line_per_object():
    objs = [{"Name": "/web", "State": {"Pid": 7}}, {"Name": "/db", "State": {"Pid": 8}}]
    assert format_inspect("{{.Name}} {{.State.Pid}}", objs) == "/web 7\n/db 8\n"


def test_inspect_missingkey_error_like_dockers_raw_fallback():
    with pytest.raises(Exception, match='template parsing error: .*map has no entry for key "Nope"'):
        format_inspect("{{.Nope}}", [{"Name": "x"}], missingkey="error")
