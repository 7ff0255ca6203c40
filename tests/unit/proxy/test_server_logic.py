"""The server's pure logic without sockets (proxy/): the path allowlist, Host parsing, config."""

from pathlib import Path

import pytest

from proxy.config import config_from
from proxy.guards import parse_host
from proxy.static import missing_vendor_files, resolve_static_path

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("url_path, expected", [
    ("/", "index.html"),
    ("/index.html?v=2#top", "index.html"),
    ("/pyscript.toml", "pyscript.toml"),
    ("/app/core/version.py", "app/core/version.py"),
    ("/app/ui/shell.py", "app/ui/shell.py"),
    ("/static/css/app.css", "static/css/app.css"),
    ("/static/css/%61pp.css", "static/css/app.css"),
])
def test_allowlisted_paths_resolve_inside_the_app(url_path, expected):
    assert resolve_static_path(ROOT, url_path) == ROOT / expected


@pytest.mark.parametrize("url_path", [
    "/server.py", "/../server.py", "/static/../server.py", "/%2e%2e/server.py",
    "/static/%2e%2e/server.py", "/static\\..\\server.py", "/static/%5c..%5cserver.py",
    "/static/..%2fserver.py", "//etc/passwd", "/C:/x", "/static/%00", "/static/%ff",
    "/.git/config", "/static/.hidden", "/app/", "/app/__init__.pyc", "/tests/conftest.py",
    "static/css/app.css", "/static//css/app.css", "/static/./css/app.css", "",
    "/proxy/providers/__init__.py", "/proxy/guards.py", "/app/../proxy/config.py",
])
def test_everything_else_resolves_to_nothing(url_path):
    assert resolve_static_path(ROOT, url_path) is None


def test_a_symlink_out_of_the_tree_is_refused(tmp_path):
    (tmp_path / "static").mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "static" / "link.txt").symlink_to(tmp_path / "secret.txt")
    assert resolve_static_path(tmp_path, "/static/link.txt") is None


def test_extra_static_dirs_extend_the_allowlist_only_when_asked(tmp_path):
    (tmp_path / "bench" / "pages").mkdir(parents=True)
    (tmp_path / "bench" / "pages" / "page.html").write_text("<p>")
    (tmp_path / "bench" / "run.py").write_text("")
    assert resolve_static_path(tmp_path, "/bench/pages/page.html") is None
    extra = ("bench/pages",)
    assert resolve_static_path(tmp_path, "/bench/pages/page.html", extra) == tmp_path / "bench/pages/page.html"
    assert resolve_static_path(tmp_path, "/bench/run.py", extra) is None


@pytest.mark.parametrize("header, parsed", [
    ("localhost:8000", ("localhost", 8000)), ("LOCALHOST", ("localhost", None)),
    ("127.0.0.1:80", ("127.0.0.1", 80)), ("[::1]:8000", ("::1", 8000)), ("[::1]", ("::1", None)),
    ("[0:0::1]", ("::1", None)), ("localhost.", ("localhost.", None)),
    ("evil.example:8000", ("evil.example", 8000)), (" localhost:1 ", ("localhost", 1)),
])
def test_parse_host_of_a_host_header(header, parsed):
    assert parse_host(header) == parsed


@pytest.mark.parametrize("header", [
    "", "user@127.0.0.1", "127.0.0.1@evil.example", "localhost:80@evil.example", "::1",
    "[::1", "::1]", "[localhost]", "[127.0.0.1]:80", "[::1]:", "localhost:", "localhost:+80",
    "localhost:-1", "localhost:123456", "localhost:0", "localhost:65536", "localhost: 80",
    "local host", "localhost\t:80", "localhost\x00", "localhost:80:80", "localhost..",
    ".localhost", "localhost/", "[fe80::1%25eth0]", "127.0.0.1\u0660", "xn--l\u00e4cal",
    "localhost:\u0668\u0660",
])
def test_parse_host_refuses_anything_but_a_name_or_ip_and_a_port(header):
    assert parse_host(header) is None


def test_config_defaults_to_loopback_8000():
    config = config_from([], {})
    assert (config.host, config.port) == ("127.0.0.1", 8000)
    assert config.allowed_hosts == {"127.0.0.1", "localhost", "::1"}


def test_config_reads_host_and_port_from_the_environment():
    config = config_from([], {"HOST": "localhost", "PORT": "9000"})
    assert (config.host, config.port) == ("localhost", 9000)


def test_flags_win_over_the_environment():
    config = config_from(["--host", "::1", "--port", "0"], {"HOST": "localhost", "PORT": "9000"})
    assert (config.host, config.port) == ("::1", 0)


def test_extra_allowed_hosts_from_flag_and_environment():
    config = config_from(["--allow-host", "Studio.Local"],
                         {"SCENEVAULT_ALLOWED_HOSTS": "nas.lan, [fd00::2]"})
    assert {"studio.local", "nas.lan", "fd00::2"} <= config.allowed_hosts


def test_wildcard_bind_address_is_not_an_allowed_host_name():
    assert "0.0.0.0" not in config_from(["--host", "0.0.0.0"], {}).allowed_hosts


@pytest.mark.parametrize("environ, fragment", [
    ({"PORT": "eighty"}, "PORT='eighty'"),
    ({"SCENEVAULT_MAX_BODY_BYTES": "1e9"}, "SCENEVAULT_MAX_BODY_BYTES='1e9'"),
])
def test_bad_numbers_in_the_environment_name_the_variable(environ, fragment):
    with pytest.raises(SystemExit, match=fragment):
        config_from([], environ)


def test_port_out_of_range_is_refused(capsys):
    with pytest.raises(SystemExit):
        config_from(["--port", "70000"], {})
    assert "70000" in capsys.readouterr().err


def test_missing_vendor_files_lists_what_setup_provides(tmp_path):
    missing = missing_vendor_files(tmp_path)
    assert "static/vendor/pyodide/pyodide.asm.wasm" in missing
    assert missing_vendor_files(ROOT) == []


@pytest.mark.parametrize("body", [
    '"' + '\\"' * 32_000, '"' + "\\" * 65_000, '"a\\' * 21_000, '"' + "a" * 65_000,
    "[" * 65_000, '{"a":' * 13_000,
], ids=["escaped-quotes", "backslashes", "mixed-escapes", "unterminated", "brackets", "objects"])
def test_the_json_depth_scan_is_linear_on_hostile_64_kb_bodies(body):
    """The request guard's string-skipping pattern must not backtrack: each 64 KB hostile body
    is judged well inside the margin (about 3 ms here; the cap is 2 s on a slow machine)."""
    import time

    from proxy.guards import json_too_deep

    started = time.perf_counter()
    deep = json_too_deep(body, 32)
    assert time.perf_counter() - started < 2.0
    assert deep == body.startswith(("[", "{"))
