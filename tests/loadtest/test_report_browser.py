"""The HTML report renders in a real headless Chromium: every embedded plot decodes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from loadtest.config import RunConfig
from loadtest.record import RequestRecord
from loadtest.report.html import write_run_report
from loadtest.result import RunResult
from loadtest.summary import summarize

CHROMIUM = next(
    (
        p
        for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
        if p and Path(p).exists()
    ),
    None,
)

# Appended to a copy of the page: after load, list each image's decoded width into the DOM.
CHECK = """<script>
window.addEventListener("load", () => {
  const widths = Array.from(document.images, (img) => img.complete ? img.naturalWidth : -1);
  const out = document.createElement("pre");
  out.id = "img-check";
  out.textContent = JSON.stringify(widths);
  document.body.appendChild(out);
});
</script>"""


def records() -> list[RequestRecord]:
    out = []
    for i in range(60):
        intended = i * 0.05
        first = intended + 0.03 + 0.001 * (i % 7)
        out.append(
            RequestRecord(
                index=i,
                tier="fast" if i % 3 == 0 else "economy",
                intended_s=intended,
                sent_s=intended + 0.0004,
                first_token_s=first,
                end_s=first + 0.007 * 31,
                itl_s=[0.007 + 0.0002 * (k % 5) for k in range(31)],
                prompt_tokens=200,
                completion_tokens=32,
                warmup=i < 5,
                error_kind="http_429" if i == 40 else None,
            )
        )
    return out


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")
def test_report_renders_its_plots_in_chromium(tmp_path: Path) -> None:
    cfg = RunConfig.model_validate(
        {
            "base_url": "http://sim.invalid",
            "model": "m",
            "duration_s": 3,
            "warmup_s": 0.25,
            "tiers": [{"name": "fast", "api_key": "a"}, {"name": "economy", "api_key": "b"}],
            "profile": {"kind": "poisson", "rate": 20},
        }
    )
    recs = records()
    summary = summarize(RunResult(cfg, cfg.profile, recs, 0.0, 3.3))  # type: ignore[arg-type]
    page = write_run_report(tmp_path, summary, recs)
    html = page.read_text()
    assert "http://" not in html.replace("http://sim.invalid", "")  # nothing fetched from afar
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", CHECK + "</body>"))

    profile_dir = tmp_path / "chromium-profile"
    common = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile_dir}",
        "--virtual-time-budget=10000",
    ]
    dom = subprocess.run(
        [*common, "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    ).stdout
    found = re.search(r'<pre id="img-check">(.*?)</pre>', dom)
    assert found, dom[-2000:]
    widths = json.loads(found.group(1))
    assert len(widths) == 4
    assert all(w > 0 for w in widths), widths
    assert "TTFT p99 (ms)" in dom and "http_429" in dom

    shot = tmp_path / "shot.png"
    subprocess.run(
        [*common, "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=90,
        check=True,
    )
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.std() > 0.05  # not a blank page
