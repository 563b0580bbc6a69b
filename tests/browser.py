"""A real browser for the tests, and a reader of what it draws.

`Browser` runs Debian's chromium headless and drives one page over the DevTools
protocol (a websocket, with the `websockets` package of setup.py's test extra): open a
page, run a script in it, click where an element is drawn, type as a keyboard does,
take a screenshot, and collect every script error, failed request and console error the
page had. A missing chromium fails the test (.ci/run installs it), it is not skipped.
`decode_png` reads a screenshot's pixels without an imaging library.
"""
from __future__ import annotations

import base64
import json
import shutil
import struct
import subprocess
import time
import urllib.request
import zlib
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest

BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")


def chromium_path() -> str:
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (Debian; .ci/run installs it)")
    return browser


class Browser:
    """One headless chromium page, driven over the DevTools protocol."""

    def __init__(self, user_dir: Path, *, width: int = 1280, height: int = 900, timeout: float = 30) -> None:
        from websockets.sync.client import connect

        self.timeout = timeout
        user_dir.mkdir(parents=True, exist_ok=True)
        port_file = user_dir / "DevToolsActivePort"
        port_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [chromium_path(), *BROWSER_FLAGS, "--remote-debugging-port=0", f"--user-data-dir={user_dir}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + timeout
            while not (port_file.is_file() and port_file.read_text().strip()):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"chromium did not open its DevTools port (exit {self.proc.poll()})")
                time.sleep(0.05)
            port = int(port_file.read_text().split()[0])
            direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
            with direct.open(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as answer:
                page = next(t for t in json.load(answer) if t["type"] == "page")
            self.ws = connect(page["webSocketDebuggerUrl"], max_size=None, proxy=None, open_timeout=timeout)
        except BaseException:
            self.proc.kill()
            raise
        self._id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False})

    # ---- the protocol
    def send(self, method: str, params: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params or {}}))
        while True:
            message = json.loads(self.ws.recv(timeout=self.timeout))
            if message.get("id") == self._id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_event(self, method: str) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method:
                self.events.remove(event)
                return event
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv(timeout=self.timeout))
            if message.get("method") == method:
                return message
            self.events.append(message)
        raise AssertionError(f"no {method} within {self.timeout} s")

    # ---- what a user does
    def open(self, url: str) -> None:
        """Load ``url`` afresh (a new document, even when only the #fragment differs)."""
        self.send("Page.navigate", {"url": "about:blank"})
        self.wait_event("Page.loadEventFired")
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def run(self, expression: str) -> Any:
        """The value of a script run in the page (an exception in it fails the test)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression[:200]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def settle(self) -> None:
        """Let the page handle what was queued (a hashchange, a scroll) and draw."""
        self.run("new Promise((done) => setTimeout(() => requestAnimationFrame(() => done()), 0))")

    def text(self, selector: str) -> str:
        return self.run(f"document.querySelector({json.dumps(selector)}).textContent")

    def click(self, selector: str) -> None:
        """A left click in the middle of the element, as the mouse makes it."""
        box = self.run(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            e.scrollIntoView({{block: "center"}}); const r = e.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2, r.width, r.height]; }})()""")
        assert box[2] > 0 and box[3] > 0, f"{selector} is not drawn"
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1})

    def type(self, selector: str, text: str) -> None:
        """Click into a field, then type ``text`` key by key."""
        self.click(selector)
        for char in text:
            self.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": char, "key": char,
                                                 "unmodifiedText": char})
            self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": char})

    def choose(self, selector: str, value: str) -> None:
        """Pick an option of a <select> (its pop-up is not drawn headless): as the page sees a choice."""
        self.run(f"""(() => {{ const s = document.querySelector({json.dumps(selector)});
            s.value = {json.dumps(value)}; if (s.value !== {json.dumps(value)}) throw new Error("no option");
            s.dispatchEvent(new Event("change", {{bubbles: true}})); }})()""")

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def problems(self) -> list[str]:
        """Script errors, console errors (a refused script or request among them) and
        requests the page made, since it was opened."""
        for _ in range(3):  # what is already on the wire
            self.run("0")
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')} "
                             f"{params['exceptionDetails'].get('exception', {}).get('description', '')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning"):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Log.entryAdded" and params["entry"].get("level") in ("error", "warning"):
                found.append(f"log: {params['entry'].get('text')}")
            elif method == "Network.requestWillBeSent" and not params["request"]["url"].startswith(("file:", "about:")):
                found.append(f"request: {params['request']['url']}")
            elif method == "Page.javascriptDialogOpening":
                found.append(f"dialog: {params.get('message')}")
        return found

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit RGB(A) PNG's pixels as a (height, width, 3) array (zlib and the PNG row
    filters, so the test needs no imaging library)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    pos, idat, header = 8, [], None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=start + 1)
        if kind == 0:
            cur = line.copy()
        elif kind == 1:  # Sub: a running sum per channel
            cur = (np.cumsum(line.reshape(width, bpp).astype(np.int64), axis=0) % 256).astype(np.uint8).reshape(-1)
        elif kind == 2:  # Up
            cur = line + prev
        else:  # Average, Paeth: byte by byte
            row, up = bytearray(line.tobytes()), prev.tobytes()
            for i in range(stride):
                a = row[i - bpp] if i >= bpp else 0
                b = up[i]
                if kind == 3:
                    row[i] = (row[i] + ((a + b) >> 1)) & 255
                    continue
                c = up[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            cur = np.frombuffer(bytes(row), dtype=np.uint8)
        out[y] = cur
        prev = out[y]
    return out.reshape(height, width, bpp)[:, :, :3]


def near(pixels: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    """How many pixels are within ``tolerance`` of a colour."""
    return int((np.abs(pixels.astype(np.int16) - np.array(rgb)).max(axis=2) <= tolerance).sum())
