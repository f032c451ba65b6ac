"""``blurvid demo``: the processing behind the page (no Gradio needed), and the page itself
end to end in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven
by Selenium) against a server on 127.0.0.1 that the test starts and stops."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image

import blurvid
from blurvid.cli import main
from blurvid.demo import SCREEN_SIDE, example_images, process, write_downloads

REPO = Path(__file__).resolve().parents[1]
CLOCK = REPO / "examples" / "images" / "clock_motion.png"


def _gif_frames(path: Path) -> list[tuple[int, int]]:
    """Decode every frame of a GIF; return their sizes."""
    sizes = []
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        for i in range(gif.n_frames):
            gif.seek(i)
            sizes.append(gif.convert("RGB").size)
    return sizes


# ----------------------------------------------------------------------------- process()
@pytest.mark.slow
def test_process_writes_strip_gif_zip(tmp_path, tiny_model):
    steps = []
    res = process(
        CLOCK,
        tmp_path / "out",
        model=tiny_model,
        boomerang=True,
        progress=lambda f, d: steps.append(f),
    )
    assert res.frames == 7 and res.size == (400, 300)
    assert res.summary().startswith("7 frames of 400x300 at the automatic working scale in ")
    assert [p.name for p in res.strip] == [f"clock_motion_strip_{i}.jpg" for i in range(7)]
    assert _gif_frames(res.gif) == [(400, 300)] * 12  # 7 forward + 5 back
    with Image.open(res.strip_png) as strip:
        assert strip.size == (7 * 400, 300)
    with zipfile.ZipFile(res.zip) as zf:
        assert zf.namelist() == [f"clock_motion/frame_{i:03d}.png" for i in range(7)]
    assert res.downloads == [res.gif, res.zip, res.strip_png]
    assert steps == sorted(steps) and steps[-1] == 1.0


def test_the_page_gets_screen_sized_frames_and_downloads_stay_full_size(tmp_path, tiny_model):
    """The strip and the animation are at most SCREEN_SIDE on their long side and come first;
    the ZIP and the strip PNG are written later, on request, at the photo's full size."""
    big = tmp_path / "wide.png"
    w, h = 2 * SCREEN_SIDE + 40, SCREEN_SIDE // 2
    with Image.open(CLOCK) as img:
        img.convert("RGB").resize((w, h)).save(big)
    res = process(big, tmp_path / "out", model=tiny_model, downloads=False)
    assert res.zip is None and res.strip_png is None  # not on the critical path
    small = (SCREEN_SIDE, round(h * SCREEN_SIDE / w))
    assert _gif_frames(res.gif) == [small] * 7
    for p in res.strip:
        with Image.open(p) as img:
            assert img.size == small
    write_downloads(res)
    with zipfile.ZipFile(res.zip) as zf, zf.open(zf.namelist()[3]) as f, Image.open(f) as frame:
        assert frame.size == (w, h)
    with Image.open(res.strip_png) as strip:
        assert strip.size == (7 * w, h)
    res.frames_file.unlink()  # the demo removed this result meanwhile
    with pytest.raises(blurvid.ConfigError, match="run the photo again"):
        write_downloads(res)


def test_process_depth_2_gives_42_frames_and_a_7_frame_strip(png_path, tmp_path, tiny_model):
    res = process(png_path, tmp_path / "out", model=tiny_model, depth=2.0)  # sliders send floats
    assert res.frames == 42 and len(res.strip) == 7
    assert _gif_frames(res.gif) == [(30, 20)] * 42
    with zipfile.ZipFile(res.zip) as zf:
        assert len(zf.namelist()) == 42


def test_process_counts_the_frames_of_a_five_frame_model(png_path, tmp_path, make_model):
    """Depth 2 of a 5-frame G is 20 frames, and the memory budget counts those 20, not 42."""
    g = make_model(num_frames=5)
    res = process(png_path, tmp_path / "out", model=g, depth=2)
    assert res.frames == 20 and len(res.strip) == 7
    with pytest.raises(blurvid.ConfigError, match="depth 2 gives 20 frames"):
        process(png_path, tmp_path / "out2", model=g, depth=2, max_frame_pixels=19 * 30 * 20)


@pytest.mark.parametrize(
    "make, kwargs, error, message",
    [
        (lambda p: p.write_text("hello"), {}, blurvid.InvalidImageError, "notes.txt is not a readable image"),
        (lambda p: p.write_bytes(b""), {}, blurvid.InvalidImageError, "notes.txt is an empty file"),
        (lambda p: shutil.copy(CLOCK, p), {"max_bytes": 1000}, blurvid.InvalidImageError, "the demo takes files up to"),
        (lambda p: shutil.copy(CLOCK, p), {"max_pixels": 10_000}, blurvid.InvalidImageError, "400x300 = 120,000 pixels; the demo takes up to 10,000"),
        (lambda p: shutil.copy(CLOCK, p), {"depth": 3}, blurvid.ConfigError, "depth 3 gives 287 frames"),
        (lambda p: shutil.copy(CLOCK, p), {"depth": 4}, blurvid.ConfigError, "depth must be 1, 2 or 3"),
        (lambda p: shutil.copy(CLOCK, p), {"max_side": 512}, blurvid.ConfigError, "None (full size) or 'auto', got 512"),
    ],
)  # fmt: skip
def test_bad_uploads_fail_early_with_one_line(tmp_path, tiny_model, make, kwargs, error, message):
    upload = tmp_path / "upload" / "notes.txt"
    upload.parent.mkdir()
    make(upload)
    kwargs.setdefault("max_frame_pixels", 42 * 120_000)
    with pytest.raises(error) as info:
        process(upload, tmp_path / "out", model=tiny_model, **kwargs)
    text = str(info.value)
    assert message in text and "\n" not in text
    assert str(upload.parent) not in text  # the uploader knows the name, not the temp path
    assert not (tmp_path / "out").exists()  # checked before any work


def test_the_automatic_scale_reaches_g_and_the_frames_keep_the_photo_size(
    tmp_path, tiny_model, monkeypatch
):
    """The page's "auto" choice is extract_frames' max_side="auto": with a blur read as 96 px
    G sees the clock photo (400x300) at the size that brings it to 16 px, and the frames,
    strip and animation keep the photo's size; with ``max_side=None`` G sees the photo at
    full size, and so it does for slow motion (depth 2) whatever the choice."""
    import blurvid.api as api
    from blurvid.working_scale import auto_max_side, plan_scale

    monkeypatch.setattr(api, "plan_scale", lambda img, **kw: plan_scale(img, blur_px=96.0))
    seen = []
    hook = tiny_model.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[-2:]))
    try:
        auto = process(CLOCK, tmp_path / "auto", model=tiny_model, max_side="auto")
        full = process(CLOCK, tmp_path / "full", model=tiny_model, max_side=None)
        seen.append("depth 2")
        slow = process(CLOCK, tmp_path / "slow", model=tiny_model, depth=2, max_side="auto",
                       max_frame_pixels=42 * 120_000)  # fmt: skip
    finally:
        hook.remove()
    side = auto_max_side(300, 400, 96.0)
    cut = seen.index("depth 2")
    assert [tuple(s) for s in seen[:cut]] == [api.working_size(300, 400, side), (300, 400)]
    assert len(seen) > cut + 1 and {tuple(s) for s in seen[cut + 1 :]} == {(300, 400)}
    assert slow.frames == 42 and slow.size == (400, 300) and "automatic" not in slow.summary()
    assert side < 400 and auto.size == full.size == (400, 300)
    assert auto.summary().startswith("7 frames of 400x300 at the automatic working scale in ")
    assert _gif_frames(auto.gif) == [(400, 300)] * 7
    with zipfile.ZipFile(auto.zip) as zf, zf.open(zf.namelist()[3]) as f, Image.open(f) as frame:
        assert frame.size == (400, 300)


def test_example_images_are_bundled():
    assert [p.name for p in example_images()] == ["clock_motion.png", "gopro_street.jpg"]


def test_demo_without_gradio_says_which_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)
    assert main(["demo", "--port", "7999"]) == 1
    err = capsys.readouterr().err
    assert "pip install 'blurvid[demo]'" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "flags, message",
    [(["--workers", "0"], "--workers must be an integer >= 1"),
     (["--keep", "0"], "--keep must be an integer >= 1"),
     (["--max-waiting", "-1"], "--max-waiting must be an integer >= 0")],
)  # fmt: skip
def test_demo_limits_are_checked_before_anything_starts(capsys, flags, message):
    assert main(["demo", *flags]) == 1
    assert message in capsys.readouterr().err


# ----------------------------------------------------------------------------- browser
def _browser_or_skip():
    pytest.importorskip("gradio", reason="gradio not installed: pip install 'blurvid[demo]'")
    pytest.importorskip("selenium", reason="selenium not installed: pip install selenium")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("headless Chromium absent: apt-get install chromium chromium-driver")
    return chromium, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:::gradio")  # Gradio's own deprecation notes
def test_demo_in_a_real_browser(tmp_path, default_model):
    """Upload -> 7 frames and a GIF that downloads and decodes; screenshot; a bad upload shows
    the library's error and the page keeps working (an example photo, one click away)."""
    chromium, chromedriver = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from blurvid.demo import launch

    port = _free_port()
    demo = launch(default_model, port=port, block=False)  # 127.0.0.1 only
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        opts.add_argument(arg)
    opts.add_argument("--window-size=1400,1700")
    opts.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(chromedriver), options=opts)
    try:
        driver.set_page_load_timeout(60)
        wait = WebDriverWait(driver, 120)

        def frames() -> int:
            return len(driver.find_elements(By.CSS_SELECTOR, "#frames img"))

        def status() -> str:
            return driver.find_element(By.ID, "status").text

        driver.get(f"http://127.0.0.1:{port}/")
        upload = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#upload input[type=file]"))
        upload.send_keys(str(CLOCK))
        wait.until(lambda d: frames() == 7 and "7 frames of 400x300" in status())
        wait.until(lambda d: "s in all" in status())  # the animation follows the frames
        assert driver.find_element(By.CSS_SELECTOR, "#gif img")  # the animation is shown

        driver.find_element(By.CSS_SELECTOR, "#downloads a[download$='.gif']").click()
        gif = downloads / "clock_motion.gif"
        WebDriverWait(driver, 30).until(lambda d: gif.is_file() and gif.stat().st_size > 0)
        time.sleep(0.5)  # Chrome renames the finished .crdownload onto the name
        assert _gif_frames(gif) == [(400, 300)] * 7

        shot = tmp_path / "demo.png"
        assert driver.save_screenshot(str(shot))
        with Image.open(shot) as img:
            assert img.size[0] >= 1000

        # a bad upload: the library's one-line error on the page, outputs cleared
        bad = tmp_path / "notes.txt"
        bad.write_text("not an image")
        driver.find_element(By.CSS_SELECTOR, "#upload button[aria-label='Clear']").click()
        upload = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#upload input[type=file]"))
        upload.send_keys(str(bad))
        wait.until(lambda d: "notes.txt is not a readable image" in status())
        assert frames() == 0 and "/tmp" not in status()

        # the server keeps serving: an example photo, one click away
        driver.find_element(By.XPATH, "//*[normalize-space(text())='gopro_street.jpg']").click()
        wait.until(lambda d: frames() == 7 and "7 frames of 1280x720" in status())
        wait.until(lambda d: "s in all" in status())
    finally:
        driver.quit()
        demo.close()


# ----------------------------------------------------------------------------- bounds
class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _blocking_job(queue, gate, log, name):
    """A job that records itself, then waits for ``gate`` checking for cancellation."""

    def fn():
        log.append(("start", name, queue.counts()[0]))
        try:
            while not gate.wait(0.01):
                queue.checkpoint()
        finally:
            log.append(("end", name))
        return name

    return fn


def test_cancelled_and_abandoned_requests_never_run_beside_the_others():
    """Two workers, seven requests: one cancelled while it waits, one whose client goes
    silent while it waits, one cancelled while it runs. Never more than two run at once, the
    dropped ones never start, the stopped one ends before another takes its slot."""
    import threading

    from blurvid._serving import Cancelled, JobQueue

    clock = FakeClock()
    queue = JobQueue(2, abandon_after=10.0, clock=clock)
    gates = {n: threading.Event() for n in "abcdefg"}
    log: list = []
    jobs = {n: queue.submit(_blocking_job(queue, gates[n], log, n)) for n in "abcdefg"}
    while queue.counts()[0] < 2:  # a and b start
        time.sleep(0.01)
    queue.cancel(jobs["c"])  # waiting: dropped
    clock.now = 11.0
    for n in "abdfg":
        queue.touch(jobs[n])  # e's client went silent
    assert queue.position(jobs["d"]) == 1 and queue.position(jobs["f"]) == 2
    queue.cancel(jobs["a"])  # running: stops at its next checkpoint
    assert queue.wait(jobs["a"], 30) and jobs["a"].state == "cancelled"
    with pytest.raises(Cancelled):
        jobs["a"].value()
    for n in "bdfg":
        gates[n].set()
        assert queue.wait(jobs[n], 30) and jobs[n].value() == n
    queue.close(timeout=30)
    started = [e[1] for e in log if e[0] == "start"]
    assert sorted(started) == ["a", "b", "d", "f", "g"]  # c and e never ran
    assert max(e[2] for e in log if e[0] == "start") <= 2  # itself and at most one other
    start_d = next(i for i, e in enumerate(log) if e[:2] == ("start", "d"))
    assert log.index(("end", "a")) < start_d  # a had left its slot
    assert jobs["c"].state == jobs["e"].state == "cancelled"
    assert queue.stats == dict(started=5, done=4, failed=0, dropped=2, stopped=1, peak=2)


def test_queue_position_expected_wait_and_a_full_queue():
    import threading

    from blurvid._serving import JobQueue, QueueFullError

    queue = JobQueue(1, max_waiting=2, typical_seconds=4.0)
    gate, log = threading.Event(), []
    running = queue.submit(_blocking_job(queue, gate, log, "a"))
    while queue.counts()[0] < 1:
        time.sleep(0.01)
    first, second = (queue.submit(lambda: None) for _ in range(2))
    assert [queue.position(j) for j in (running, first, second)] == [0, 1, 2]
    assert [queue.expected_wait(j) for j in (running, first, second)] == [0.0, 4.0, 8.0]
    with pytest.raises(QueueFullError, match="2 requests waiting, about 12 s"):
        queue.submit(lambda: None)
    gate.set()
    queue.close(timeout=30)
    assert first.state == second.state == "cancelled"  # closing drops what waits


def test_errors_reach_the_client_and_the_worker_goes_on():
    from blurvid._serving import JobQueue

    queue = JobQueue(1)

    def bad():
        raise blurvid.InvalidImageError("x.png is not a readable image")

    failed, ok = queue.submit(bad), queue.submit(lambda: 42)
    assert queue.wait(ok, 30) and ok.value() == 42
    with pytest.raises(blurvid.InvalidImageError):
        failed.value()
    queue.close(timeout=30)


def _fill(folder: Path, size: int, age: float = 0.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "out.bin").write_bytes(b"x" * size)
    stamp = time.time() - age
    os.utime(folder, (stamp, stamp))
    return folder


def test_workspace_keeps_a_count_an_age_and_a_disk_budget(tmp_path):
    from blurvid._serving import Workspace

    space = Workspace(tmp_path / "w", keep=3, max_age=600, max_bytes=10**9)
    runs = []
    for i in range(5):
        run = space.new_run()
        runs.append(_fill(run, 1000, age=100 - i))  # later runs are newer
    assert sorted(p.name for p in space.runs.iterdir()) == sorted(r.name for r in runs[-3:])
    _fill(runs[-3], 1000, age=700)  # older than max_age: removed, not just over the count
    cache = _fill(space.root / "gradio" / "abc", 1000, age=1)  # the framework's cache counts
    assert space.prune() == [runs[-3]]
    space.max_bytes = 2500  # room for the two newest entries only
    assert space.prune() == [runs[-2]]
    assert space.usage() <= 2500 and cache.exists() and runs[-1].exists()
    space.close()
    assert not space.root.exists()


def test_disk_use_stays_bounded_over_many_requests(tmp_path, png_path, tiny_model):
    """Twelve requests through the workspace: never more than ``keep`` results on disk."""
    from blurvid._serving import Workspace

    space = Workspace(tmp_path / "w", keep=4)
    peak = 0
    for _ in range(12):
        process(png_path, space.new_run(), model=tiny_model, downloads=False)
        peak = max(peak, len(list(space.runs.iterdir())))
    assert peak == 4
    space.close()


@pytest.mark.slow
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_the_server_removes_everything_when_stopped(
    tmp_path, tiny_model, python, subprocess_env, signame
):
    """`blurvid demo` stopped by Ctrl-C or by SIGTERM leaves no file behind (uploads, results,
    Gradio's cache all live in its work folder, under TMPDIR)."""
    import signal
    import subprocess

    pytest.importorskip("gradio", reason="gradio not installed: pip install 'blurvid[demo]'")
    folder = tmp_path / "tiny"
    tiny_model.save_pretrained(folder)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(subprocess_env, TMPDIR=str(tmp), GRADIO_ANALYTICS_ENABLED="False")
    args = ["-m", "blurvid", "demo", "--model", str(folder), "--port", str(_free_port())]
    proc = subprocess.Popen(
        [python, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # until the server is up
            if "Running on" in line:
                break
        assert [p.name[:13] for p in tmp.iterdir()] == ["blurvid-demo-"]
        proc.send_signal(getattr(signal, signame))
        proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert list(tmp.iterdir()) == []


def test_a_job_shows_its_frames_before_it_ends(tiny_model, png_path, tmp_path):
    """process() hands the strip to the page (JobQueue.share) before the animation exists."""
    from blurvid._serving import JobQueue

    queue, seen = JobQueue(1), []

    def on_frames(res):
        seen.append((res.gif, [p.is_file() for p in res.strip]))
        queue.share(res)

    job = queue.submit(lambda: process(png_path, tmp_path, model=tiny_model, on_frames=on_frames))
    while not queue.wait(job, 30):  # a wait ends early when the job shares something
        assert job.partial is not None
    assert seen == [(None, [True] * 7)]  # the strip was written, the GIF not yet
    assert job.value() is job.partial and job.value().gif.is_file()
    queue.close(timeout=30)
