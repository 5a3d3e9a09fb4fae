"""`dashboard`: one self-contained page, checked in a real headless Chromium. CI installs it, and
with CI set a missing browser fails these tests; on a developer's machine without one they skip,
saying so."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import TEAM_YAML, Cli, lead_rows, ledger_conn, phone, write_csv

# Names are untrusted: markup in them must come out as text.
BEN = "Ben <b>Lim</b> & 'Co'"
CUSTOMER = "<img src=x onerror=alert(1)>Mallory"
DASH_YAML = (
    TEAM_YAML.replace("name: Ben Lim", 'name: "Ben <b>Lim</b> & \'Co\'"')
    .replace("    tier: gold\n", "    tier: gold\n    capacity: 12\n")
)
NAMES = ["Aisyah Rahman", BEN, "Chitra Devi"]


pytestmark = pytest.mark.both_backends


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found:
        return found
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail("Chromium is needed for the dashboard tests and CI is set: install it (apt-get install -y chromium; "
                    ".ci/run does)", pytrace=False)
    pytest.skip("no Chromium installed: the page is not checked in a real browser here (apt-get install -y chromium; "
                "CI runs these)")


def test_without_chromium_the_browser_checks_skip_with_the_reason_except_under_ci(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium installed"):
        chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        chromium()


def run_chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
        "--enable-logging=stderr", "--v=0", *args, page.resolve().as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    """What the page wrote to the console (errors, CSP violations, uncaught exceptions)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.parts.append(data)


def parse(html: str) -> _Text:
    p = _Text()
    p.feed(html)
    return p


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA, non-interlaced PNG with the standard library: (width, height, rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
        elif kind == b"IDAT":
            idat += body
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(idat)
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if f == 1:
            line = _sub(line, bpp)
        elif f == 2:
            line = _bytewise_sum(line, prev)
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        else:
            assert f == 0, f"PNG filter {f}"
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r[i : i + 3]) for r in rows[::4] for i in range(0, stride, bpp * 4)]


def _bytewise_sum(a: bytes, b: bytes) -> bytearray:
    """(a[i] + b[i]) mod 256 for every byte at once, on the rows as integers: adding the low
    seven bits of each byte cannot carry into the next byte, and the top bits add without carry."""
    n = len(a)
    low, top = int.from_bytes(b"\x7f" * n, "big"), int.from_bytes(b"\x80" * n, "big")
    x, y = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    return bytearray((((x & low) + (y & low)) ^ ((x ^ y) & top)).to_bytes(n, "big"))


def _sub(line: bytes, bpp: int) -> bytearray:
    """PNG's Sub filter undone (each byte plus the decoded one a pixel to its left): running sums
    of each channel, done a doubling distance at a time (1, 2, 4 ... pixels back)."""
    shift = bpp
    while shift < len(line):
        line = _bytewise_sum(line, bytes(shift) + line[:-shift])
        shift *= 2
    return bytearray(line)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A ledger with a few weeks of history, SLA breaches and SLA moves, its dashboard, and what
    Chromium made of it."""
    here = tmp_path_factory.mktemp("dashboard")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("LEADSHARE_") and key != "LEADSHARE_CACHE_DIR":
                mp.delenv(key)
        mp.chdir(here)
        (here / "rules.yaml").write_text(DASH_YAML)
        cli = Cli(here)

        def run(*args, now):
            result = cli(*args, env={"LEADSHARE_NOW": now})
            assert result.exit_code in (0, 1), (args, result.stdout, result.stderr)
            return result

        write_csv(here / "early.csv", [r.replace("facebook", "instagram") for r in lead_rows(4, start=200)])
        run("import", "early.csv", now="2026-11-05T11:00:00")
        write_csv(here / "friday.csv", lead_rows(6))
        run("import", "friday.csv", now="2026-11-20T10:00:00")
        run("status", "FB-0", "contacted", "--note", "called", "--as", "ben", now="2026-11-20T10:20:00")
        run("status", "FB-0", "won", "--note", "signed", "--as", "ben", now="2026-11-20T11:00:00")
        run("sweep", now="2026-11-20T15:00:00")  # the uncontacted Friday leads move on
        write_csv(here / "today.csv", lead_rows(5, start=100) + [
            f'X-1,"{CUSTOMER}",{phone(999)},,walk-in,KL,residential',
        ])
        run("import", "today.csv", now="2026-11-25T10:00:00")
        result = run("dashboard", "--out", "dash.html", now="2026-11-25T16:00:00")
        verify = cli.json("verify")
    page, shot = here / "dash.html", here / "shot.png"
    # one browser run: the page's DOM as Chromium built it on stdout, its screenshot in shot
    browser = run_chromium(page, here / "profile", "--dump-dom", f"--screenshot={shot}", "--window-size=1280,2000")
    return {"dir": here, "page": page, "html": page.read_text(), "stdout": result.stdout, "browser": browser,
            "shot": shot, "verify": verify}


def test_dashboard_writes_one_file_atomically(site):
    assert "dashboard written" in site["stdout"]
    assert not [p for p in site["dir"].iterdir() if p.name.startswith(".dash.html")]
    assert site["html"].lstrip().startswith("<!DOCTYPE html>")


def test_dashboard_is_self_contained_with_no_scripts_or_external_urls(site):
    html = site["html"]
    assert "<script" not in html.lower()
    assert not re.search(r"<(link|iframe|object|embed|img)\b", html, re.IGNORECASE)
    urls = set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert "@import" not in html and "url(" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert html.count("<svg") >= 4  # fairness, load, per day, per source


def test_untrusted_names_are_escaped(site):
    html = site["html"]
    assert "<b>Lim</b>" not in html and "Ben &lt;b&gt;Lim&lt;/b&gt; &amp; &#39;Co&#39;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;Mallory" in html


def test_dashboard_shows_the_verify_status_and_chain_head(site):
    assert site["verify"]["ok"] is True
    text = " ".join(parse(site["html"]).parts)
    assert "verified" in text
    assert site["verify"]["head"] in text


def test_chromium_renders_every_agent_name_as_text(site):
    dom = site["browser"]
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = parse(dom.stdout)
    text = " ".join(" ".join(parsed.parts).split())
    for name in NAMES:
        assert name in text, name
    assert CUSTOMER in text  # the customer from the breached SLA list, as text
    # ... and none of the markup in the names became elements
    assert "<b>Lim</b>" not in dom.stdout
    assert not [t for t, _ in parsed.tags if t in ("img", "script")]
    assert not [a for _, attrs in parsed.tags for a in attrs if a.startswith("on")]
    assert "SLA" in text and "Last imports" in text and site["verify"]["head"] in text


def test_chromium_logs_no_console_errors(site):
    assert console_messages(site["browser"].stderr) == []


def test_chromium_screenshot_is_not_blank(site):
    assert site["browser"].returncode == 0, site["browser"].stderr[-2000:]
    width, height, pixels = png_pixels(site["shot"].read_bytes())
    assert (width, height) == (1280, 2000)
    colours = Counter(pixels)
    assert len(colours) > 50, len(colours)
    background = colours.most_common(1)[0][0]
    inked = sum(1 for p in pixels if p != background) / len(pixels)
    assert inked > 0.2, inked


def test_console_check_catches_a_broken_page(site, tmp_path):
    # the check above is only worth something if it sees errors when there are some
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><p>x</p><script>undefinedFunction()</script>")
    run = run_chromium(broken, tmp_path / "profile", "--dump-dom")
    assert any("Uncaught" in line for line in console_messages(run.stderr))


def test_dashboard_figures(cli, tmp_path, rules):
    rules.write_text(DASH_YAML)
    write_csv(tmp_path / "leads.csv", lead_rows(6) + [f"W-1,Walk In,{phone(77)},,walk-in,KL,residential"])
    cli.json("import", "leads.csv")
    from leadshare import clock, dashboard
    from leadshare.config import load_team
    from leadshare.ledger import open_ledger

    team = load_team(rules)
    ctx = dashboard.build(open_ledger(os.environ.get("LEADSHARE_DB") or tmp_path / "leadshare.db"), team, clock.now(team.timezone).replace(hour=16))
    assert ctx["volume"]["total"] == 7
    assert ctx["volume"]["by_source"][:2] == [{"source": "facebook", "leads": 6}, {"source": "walk-in", "leads": 1}]
    assert len(ctx["volume"]["by_day"]) == 30 and ctx["volume"]["by_day"][-1] == {"day": "2026-11-25", "leads": 7}
    assert ctx["sla"]["breached"] == 7  # assigned at 10:00 with a 4h SLA, nobody called by 16:00
    assert {g["key"]: g["capacity"] for g in ctx["fairness"]["groups"]}["aisyah"] == 12
    assert ctx["imports"][0]["batch"] == 1 and ctx["imports"][0]["imported"] == 7
    assert ctx["check"]["ok"] is True and len(ctx["check"]["head"]) == 64


def test_a_tampered_ledger_shows_problems(cli, tmp_path, rules):
    write_csv(tmp_path / "leads.csv", lead_rows(3))
    cli.json("import", "leads.csv")
    with ledger_conn() as conn:
        conn.execute("UPDATE leads SET agent = 'chitra' WHERE id = 1")
    result = cli("dashboard", "--out", "dash.html")
    assert result.exit_code == 0, result.stderr
    html = (tmp_path / "dash.html").read_text()
    assert "problems found" in html and "lead 1" in html
    skipped = cli("dashboard", "--out", "quick.html", "--skip-verify")
    assert skipped.exit_code == 0 and "not checked" in (tmp_path / "quick.html").read_text()


def test_dashboard_needs_out_and_a_writable_folder(cli, tmp_path):
    assert cli("dashboard").exit_code == 2
    result = cli("dashboard", "--out", str(tmp_path / "missing" / "d.html"))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_dashboard_of_an_empty_ledger(cli, tmp_path):
    assert cli("dashboard", "--out", "d.html").exit_code == 0
    html = (tmp_path / "d.html").read_text()
    assert "Nothing imported yet." in html and "No leads were assigned in this period." in html


@pytest.mark.sqlite_only  # SQLite's own query plan
def test_the_dashboards_leads_created_in_a_period_are_read_through_an_index(cli, tmp_path):
    """EXPLAIN QUERY PLAN of the very query the dashboard runs: a search of an index that covers it,
    never a scan of every lead."""
    from leadshare.ledger import reporting
    from leadshare.ledger.store import Ledger

    write_csv(tmp_path / "leads.csv", lead_rows(5))
    assert cli("import", "leads.csv").exit_code == 0
    ledger = Ledger.open(tmp_path / "leadshare.db")
    statements: list[str] = []
    ledger.conn.set_trace_callback(statements.append)
    counted = reporting.created_between(ledger, "2026-11-01T00:00:00+00:00", "2026-11-30T00:00:00+00:00")
    ledger.conn.set_trace_callback(None)
    assert sum(r["n"] for r in counted) == 5
    (query,) = [q for q in statements if "created_at" in q]
    plan = " | ".join(r[3] for r in ledger.conn.execute("EXPLAIN QUERY PLAN " + query))
    ledger.close()
    assert "SEARCH leads USING COVERING INDEX leads_created (created_at>? AND created_at<?)" in plan, plan
    assert "SCAN" not in plan, plan
