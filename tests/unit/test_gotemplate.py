"""Go text/template semantics of pallet.cli.gotemplate: data, control, literals.

Expected outputs are what Go's text/template (with Docker's functions)
prints for the same template and data.
"""

from dataclasses import dataclass

import pytest

from pallet.cli.gotemplate import parse, render

# The shape of `docker inspect` JSON for a container (trimmed).
CONTAINER = {
    "Id": "4fa6e0f0c678",
    "Name": "/web",
    "Args": ["-g", "daemon off;"],
    "State": {"Status": "running", "Running": True, "Pid": 4242, "ExitCode": 0, "Health": None},
    "Config": {
        "Image": "nginx:1.25",
        "Env": ["PATH=/usr/bin", "NGINX_VERSION=1.25"],
        "Labels": {"com.docker.compose.project": "shop", "maintainer": "ops"},
    },
    "GraphDriver": {"Name": "overlay2", "Data": {"MergedDir": "/var/lib/pallet/overlay/abc/merged"}},
    "Mounts": [
        {"Type": "bind", "Source": "/srv/www", "Destination": "/usr/share/nginx/html", "RW": False},
        {"Type": "volume", "Source": "/var/lib/pallet/volumes/logs", "Destination": "/var/log", "RW": True},
    ],
    "NetworkSettings": {
        "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": None},
        "Networks": {"bridge": {"IPAddress": "172.17.0.2", "Gateway": "172.17.0.1"}},
    },
    "LogPath": "/var/lib/pallet/containers/4fa6/4fa6-json.log",
}


@dataclass(frozen=True)
class Image:
    ID: str
    Repository: str
    Tag: str
    Size: int

    def Digest(self):
        return "sha256:" + self.ID

    def Label(self, key):
        return {"version": "1.2"}.get(key, "")

    @property
    def Name(self):
        return f"{self.Repository}:{self.Tag}"


IMAGE = Image("9c7a54a9a43c", "nginx", "latest", 187_000_000)


# -- Docker's documented examples ----------------------------------------------------

@pytest.mark.parametrize("template, expected", [
    ("{{.Name}}", "/web"),
    ("{{.State.Pid}}", "4242"),
    ("{{.GraphDriver.Data.MergedDir}}", "/var/lib/pallet/overlay/abc/merged"),
    ("{{.LogPath}}", "/var/lib/pallet/containers/4fa6/4fa6-json.log"),
    ("{{.Config.Image}}", "nginx:1.25"),
    ("{{join .Args \" \"}}", "-g daemon off;"),
    ("{{join .Args \" , \"}}", "-g , daemon off;"),
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    ("{{range .Mounts}}{{.Source}} {{end}}", "/srv/www /var/lib/pallet/volumes/logs "),
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "172.17.0.2"),
    ("{{index .Config.Labels \"com.docker.compose.project\"}}", "shop"),
    ("{{index .NetworkSettings.Ports \"80/tcp\"}}", "[map[HostIp:0.0.0.0 HostPort:8080]]"),
    ("{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}", "8080"),
    ("{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{if $conf}}{{(index $conf 0).HostPort}}{{end}}; {{end}}",
     "443/tcp -> ; 80/tcp -> 8080; "),
    ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "com.docker.compose.project=shop;maintainer=ops;"),
    ("{{upper .Name}} {{lower \"ABC\"}} {{title .State.Status}}", "/WEB abc Running"),
    ("{{split .Config.Image \":\"}}", "[nginx 1.25]"),
    ("{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}", "172.17.0.2\n"),
    ("{{.Config.Env}}", "[PATH=/usr/bin NGINX_VERSION=1.25]"),
    ("{{.State}}", "map[ExitCode:0 Health:<nil> Pid:4242 Running:true Status:running]"),
])
def test_docker_inspect_examples(template, expected):
    assert render(template, CONTAINER) == expected


def test_network_inspect_example_pipes_dot_into_printf():
    network = {"IPAM": {"Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]}}
    assert render('{{ range $k, $v := index .IPAM.Config 0}}{{.| printf "%s: %s " $k}}{{end}}', network) == \
        "Gateway: 172.18.0.1 Subnet: 172.18.0.0/16 "


def test_exit_code_comparison_accepts_a_float_literal():
    # seen in the wild; Go refuses int-vs-float, pallet compares the numbers
    assert render("{{ if eq 0.0 .State.ExitCode }}{{.Name}} {{.State.ExitCode}}{{end}}", CONTAINER) == "/web 0"


def test_json_of_a_sub_object_is_compact_with_sorted_keys():
    assert render("{{json .Mounts}}", CONTAINER) == (
        '[{"Destination":"/usr/share/nginx/html","RW":false,"Source":"/srv/www","Type":"bind"},'
        '{"Destination":"/var/log","RW":true,"Source":"/var/lib/pallet/volumes/logs","Type":"volume"}]')


def test_json_pipeline_form_equals_function_form():
    assert render("{{.Config.Labels | json}}", CONTAINER) == render("{{json .Config.Labels}}", CONTAINER)


# -- data lookup -----------------------------------------------------------------------

def test_missing_map_key_prints_no_value_and_chains_quietly():
    assert render("{{.Nope}}|{{.Nope.Deeper}}|{{.Config.Nope}}", CONTAINER) == "<no value>|<no value>|<no value>"


def test_null_value_prints_no_value_at_top_level_but_nil_inside_print():
    assert render("{{.State.Health}}|{{print .State.Health}}|{{printf \"%v\" .Nope}}", CONTAINER) == \
        "<no value>|<nil>|<nil>"


def test_dataclass_fields_methods_and_properties():
    assert render("{{.Repository}}:{{.Tag}} {{.Digest}} {{.Name}} {{.Label \"version\"}}", IMAGE) == \
        "nginx:latest sha256:9c7a54a9a43c nginx:latest 1.2"


def test_method_receives_a_piped_value_as_its_last_argument():
    assert render('{{"version" | .Label}}', IMAGE) == "1.2"


def test_dot_and_dollar_are_the_data():
    assert render("{{.}}", "x") == "x"
    assert render("{{range .Args}}{{$.Name}}{{end}}", CONTAINER) == "/web/web"


def test_value_formatting_like_go():
    data = {"t": True, "f": False, "i": 3, "fl": 2.0, "big": 1e6, "small": 0.00001, "pi": 3.25,
            "l": ["a", 1, None], "m": {"b": 2, "a": [1]}, "e": []}
    assert render("{{.t}} {{.f}} {{.i}} {{.fl}} {{.big}} {{.small}} {{.pi}} {{.l}} {{.m}} {{.e}}", data) == \
        "true false 3 2 1e+06 1e-05 3.25 [a 1 <nil>] map[a:[1] b:2] []"


def test_dataclass_prints_as_a_go_struct():
    assert render("{{.}}", IMAGE) == "{9c7a54a9a43c nginx latest 187000000}"
    assert render('{{printf "%+v" .}}', IMAGE) == "{ID:9c7a54a9a43c Repository:nginx Tag:latest Size:187000000}"


def test_plain_objects_print_and_encode_as_structs():
    class Port:
        def __init__(self):
            self.Private = 80
            self.Type = "tcp"
            self._cache = None

    assert render("{{.}} {{json .}}", Port()) == '{80 tcp} {"Private":80,"Type":"tcp"}'


def test_only_exported_methods_are_called():
    class Ctx:
        Name = "web"

        def remove(self):
            raise AssertionError("a template must not call this")

    assert render("{{.Name}}", Ctx()) == "web"
    with pytest.raises(Exception, match="can't evaluate field remove"):
        render("{{.remove}}", Ctx())


def test_private_attributes_are_not_reachable():
    with pytest.raises(Exception, match="can't evaluate field __class__"):
        render("{{.__class__}}", IMAGE)


# -- control structures -------------------------------------------------------------

@pytest.mark.parametrize("template, expected", [
    ("{{if .A}}a{{else if .B}}b{{else}}c{{end}}", "b"),
    ("{{if and .A .B}}x{{else}}y{{end}}", "y"),
    ("{{with .Name}}[{{.}}]{{end}}", "[n]"),
    ("{{with .A}}x{{else}}no a{{end}}", "no a"),
    ("{{with .A}}x{{else with .Name}}{{.}}{{end}}", "n"),
    ("{{with $n := .Name}}{{$n}}{{$n}}{{end}}", "nn"),
    ("{{range .L}}{{.}},{{end}}", "3,1,2,"),
    ("{{range $i, $e := .L}}{{$i}}={{$e}} {{end}}", "0=3 1=1 2=2 "),
    ("{{range $e := .L}}{{$e}}{{end}}", "312"),
    ("{{range .M}}{{.}}{{end}}", "123"),
    ("{{range $k, $v := .M}}{{$k}}{{$v}}{{end}}", "a1b2c3"),
    ("{{range .E}}x{{else}}empty{{end}}", "empty"),
    ("{{range .Nope}}x{{else}}none{{end}}", "none"),
    ("{{range .L}}{{if eq . 1}}{{continue}}{{end}}{{.}}{{end}}", "32"),
    ("{{range .L}}{{if eq . 1}}{{break}}{{end}}{{.}}{{end}}", "3"),
    ("{{range 3}}{{.}}{{end}}", "012"),
    ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"),
    ("{{$x := .Name}}{{range .L}}{{$x}}{{end}}", "nnn"),
])
def test_control_structures(template, expected):
    data = {"A": 0, "B": "yes", "Name": "n", "L": [3, 1, 2], "M": {"c": 3, "a": 1, "b": 2}, "E": []}
    assert render(template, data) == expected


def test_truth_follows_go():
    data = {"zero": 0, "empty": "", "nil": None, "l": [], "m": {}, "f": 0.0, "obj": IMAGE, "s": " "}
    out = render("{{range $k, $v := .}}{{$k}}={{if $v}}T{{else}}F{{end}} {{end}}", data)
    assert out == "empty=F f=F l=F m=F nil=F obj=T s=T zero=F "


# -- text, whitespace, comments, literals ------------------------------------------------

@pytest.mark.parametrize("template, expected", [
    ("a  {{- 1 -}}  \n b", "a1b"),
    ("a {{- /* why */ -}} b", "ab"),
    ("a {{/* a\ncomment */}} b", "a  b"),
    ("{{- 3}}", "3"),
    ("{{-3}}", "-3"),
    ("{{`a\\nb`}}", "a\\nb"),
    ('{{"a\\tb\\u00e9\\x41"}}', "a\tbéA"),
    ("{{'a'}}", "97"),
    ("{{0x1F}} {{0o17}} {{0b101}} {{010}} {{1_000}}", "31 15 5 8 1000"),
    ("{{1.5}} {{1e3}} {{-2}} {{.5}}", "1.5 1000 -2 0.5"),
    ("{{true}} {{false}}", "true false"),
    ("{{printf \"%s-%d\" (upper .N) (len .N)}}", "AB-2"),
    ("{{.N | printf \"%s!\" | printf \"<%s>\"}}", "<ab!>"),
    ("{{.N |}}", "ab"),
    ("{{\n.N\n}}", "ab"),
])
def test_lexical_forms(template, expected):
    assert render(template, {"N": "ab"}) == expected


def test_parse_is_cached_and_reusable():
    t = parse("{{.A}}-{{.B}}")
    assert parse("{{.A}}-{{.B}}") is t
    assert t.execute({"A": 1, "B": 2}) == "1-2"
    assert t.execute({"A": "x", "B": "y"}) == "x-y"


def test_missingkey_options():
    t = parse("{{.Nope}}")
    assert t.execute({"a": 1}, missingkey="zero") == "<no value>"
    assert t.execute({"a": "x"}, missingkey="zero") == ""
    with pytest.raises(Exception, match='map has no entry for key "Nope"'):
        t.execute({}, missingkey="error")


def test_import_is_light():
    # Loaded for every --format: nothing beyond dataclasses and json (its parse tree and `{{json}}`), which
    # a verb pays only when it takes --format. The CLI's common start (pallet.cli.common) loads neither.
    import subprocess
    import sys

    code = ("import sys, pallet.cli.common; start = set(sys.modules); import dataclasses, json; "
            "base = set(sys.modules); "
            "import pallet.cli.gotemplate as g; g.render('{{json .}} {{.}}', {'a': 'é'}); "
            "print(sorted(m for m in set(sys.modules) - base if not m.startswith('pallet')), "
            "sorted(m for m in {'dataclasses', 'json', 're', 'argparse', 'contextlib'} & start))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []"
