"""The report of the reduced grid: built by `snakemake --report`, with the dictionary baseline in
its main table and diagnostics on its cell cards, free of note text, and working as a web page in
headless Chromium (figures and tables render, no JavaScript errors)."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import GRID_CONFIG, REPO, run_snakemake

pytestmark = pytest.mark.workflow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CATEGORIES = ("Corpus", "Cells", "Tables", "Figures")
SCREENSHOTS = REPO / "results/report-screenshots"
DATA_URI = re.compile(r"data:[^,;\"']+(?:;[^,;\"']+)*;base64,([A-Za-z0-9+/=]+)")
MIN_SENTENCE = 25


@pytest.fixture(scope="module")
def report(grid_run) -> Path:
    path = grid_run / "results/report.html"
    result = run_snakemake(grid_run, GRID_CONFIG, "--report", str(path))
    assert result.returncode == 0, result.stderr[-3000:]
    return path


def report_texts(path: Path) -> list[str]:
    """The report's own text and every file embedded in it (base64 data URIs), decoded."""
    html = path.read_text(encoding="utf-8")
    embedded = [
        base64.b64decode(found).decode("utf-8", "replace") for found in DATA_URI.findall(html)
    ]
    return [html, *embedded]


def note_sentences(workdir: Path) -> set[str]:
    """Sentences (long enough to be specific) of every synthetic note the grid read."""
    sentences = set()
    for note in (workdir / "results/corpora").rglob("*.txt"):
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", note.read_text(encoding="utf-8")):
            if len(sentence.strip()) >= MIN_SENTENCE:
                sentences.add(sentence.strip())
    return sentences


def test_report_has_every_category_and_embeds_its_results(report):
    html = report.read_text(encoding="utf-8")
    for category in CATEGORIES:
        assert f'"{category}"' in html, category
    texts = report_texts(report)
    assert any("<table" in text and "strict" in text for text in texts[1:])
    assert "Runtime" in html or "runtime" in html


def test_report_main_table_has_the_dictionary_row_and_cards_their_diagnostics(report):
    texts = report_texts(report)[1:]
    assert any("<caption>Main results" in text and "dictionary" in text for text in texts)
    cards = [text for text in texts if "<h3>Learning curve</h3>" in text]
    assert cards and all("Concepts per type" in card and "<h3>Diagnostics</h3>" in card
                         for card in cards)  # fmt: skip


def test_no_note_text_in_report_logs_or_tables(report, grid_run):
    from clinprompt.synth.corpora import CANARY_IDENTIFIERS

    sentences = note_sentences(grid_run)
    assert len(sentences) > 20
    readable = [
        *(grid_run / "logs").rglob("*.log"),
        *(grid_run / "results/tables").glob("*.html"),
        *(grid_run / "results/tables").glob("*.tex"),
        *(grid_run / "results/figures").glob("*.svg"),
        *(grid_run / "results").rglob("summary.html"),
        *(grid_run / "results/corpora").rglob("statistics.html"),
    ]
    texts = {str(path): path.read_text(encoding="utf-8") for path in readable}
    texts |= {f"report part {i}": text for i, text in enumerate(report_texts(report))}
    parquet = sorted((grid_run / "results/tables").glob("*.parquet"))
    texts |= {str(path): _parquet_text(path) for path in parquet}
    for name, text in texts.items():
        assert not [canary for canary in CANARY_IDENTIFIERS if canary in text], name
        assert not [sentence for sentence in sentences if sentence in text], name


def _parquet_text(path: Path) -> str:
    import pandas as pd

    return pd.read_parquet(path).to_csv(index=False)


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if not program.exists():
            return f"{program} missing: install Debian's chromium and chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium missing: install the package's dev extras"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                 "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def javascript_errors(driver) -> list[str]:
    """Console errors and uncaught exceptions since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def show(driver, category: str, path: str) -> None:
    """Open a category and one of its results, as the result's view button does."""
    driver.execute_script("app.showCategory(arguments[0])", category)
    content = "html" if path.endswith(".html") else "img"
    driver.execute_script(
        "app.setView({content: arguments[1], contentPath: results[arguments[0]].data_uri,"
        " resultPath: arguments[0]})",
        path,
        content,
    )


def rendered(driver, path: str) -> bool:
    """Whether the shown result rendered: an image with pixels or a table with rows."""
    if not path.endswith(".html"):
        width = driver.execute_script(
            "const uri = results[arguments[0]].data_uri;"
            " const i = Array.from(document.images).find(i => i.src === uri);"
            " return i && i.complete ? i.naturalWidth : 0",
            path,
        )
        return width > 100
    driver.switch_to.frame(driver.find_element("css selector", "iframe"))
    rows = driver.execute_script("return document.querySelectorAll('table tr').length")
    driver.switch_to.default_content()
    return rows > 1


def varied_pixels(png: Path) -> bool:
    """Whether the screenshot's content area (right of the menu) is more than one colour."""
    from matplotlib.image import imread

    pixels = imread(png)
    return float(pixels[:, pixels.shape[1] // 3 :, :3].std()) > 0.01


def test_report_renders_in_headless_chromium(report, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(report.as_uri())
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return typeof app === 'object'"))
    assert javascript_errors(browser) == []
    categories = browser.execute_script("return categories")
    assert set(categories) == set(CATEGORIES)
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    for category, subcategories in categories.items():
        paths = [path for listed in subcategories.values() for path in listed]
        assert paths, category
        shown = paths if category in ("Tables", "Figures") else paths[:1]
        for path in shown:
            show(browser, category, path)
            WebDriverWait(browser, 10).until(lambda d, p=path: rendered(d, p))
        screenshot = SCREENSHOTS / f"{category.lower()}.png"
        assert browser.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 10_000 and varied_pixels(screenshot), category
    assert javascript_errors(browser) == []
