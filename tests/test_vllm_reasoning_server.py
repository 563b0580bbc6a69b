"""A real vLLM OpenAI server with a reasoning parser, evaluated as a user would: the fourth
measurement of issue 23 (``python -m vllm.entrypoints.openai.api_server --reasoning-parser
deepseek_r1`` serving a tiny checkpoint whose chat template opens ``<think>``; vLLM 0.30 and
later return the thinking in ``message.reasoning``, ``content`` null, when the budget ends
inside it). The tiny model never closes its thinking: every answer is cut off while
thinking, its reasoning kept. A recording proxy between the run and the server keeps what
the server returned. The server starts in about a minute on two cores."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import free_ports, read_jsonl

from mix_eval.evaluate import main as evaluate_main

pytestmark = pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vLLM is not installed")

VERSION = "2024-06-01"
SPLITS = ("close_freeform_hard", "close_multichoice_hard")
LIMIT = 10
SERVED = "tiny-thinker"
START_S = 240  # a runaway guard only: the server is up in about a minute


class Recorder(ThreadingHTTPServer):
    """Forwards each POST to ``upstream`` and keeps (request body, response body)."""

    daemon_threads = True

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.exchanges: list[tuple[dict, dict]] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Forward)


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = urllib.request.Request(self.server.upstream + self.path, data=raw, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        if status == 200:
            with self.server.lock:
                self.server.exchanges.append((json.loads(raw), json.loads(body)))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def vllm_server(tiny_thinking, tmp_path_factory):
    """The vLLM OpenAI server on a free loopback port, started as fast as it goes (eager,
    a short context, few sequences, 1 GiB of KV cache); its whole process group killed
    at the end. Yields its base URL."""
    (port,) = free_ports(1)
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_thinking),
           "--served-model-name", SERVED, "--reasoning-parser", "deepseek_r1", "--host", "127.0.0.1",
           "--port", str(port), "--dtype", "float32", "--enforce-eager", "--max-model-len", "2048",
           "--max-num-seqs", "8", "--seed", "0"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", VLLM_CPU_KVCACHE_SPACE="1")
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while True:
            assert proc.poll() is None, f"the vLLM server exited ({proc.returncode}):\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the vLLM server was not up in {START_S} s"
            try:
                with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass


def test_a_vllm_server_with_a_reasoning_parser_is_cut_off_while_thinking(vllm_server, clean_env, data_path, tmp_path,
                                                                          capsys):
    proxy = Recorder(vllm_server)
    threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    out = tmp_path / "out"
    try:
        code = evaluate_main([
            "--model_name", "openai_compatible", "--model_base_url", f"http://127.0.0.1:{proxy.server_port}/v1",
            "--model_id", SERVED, "--model_gen_kwargs", '{"temperature": 0, "seed": 0}', "--max_new_tokens", "8",
            "--benchmark", "mixeval_hard", "--version", VERSION, "--batch_size", "8", "--limit", str(LIMIT),
            "--data_path", str(data_path), "--output_dir", str(out), "--output_name", "vllm_thinker",
            "--inference_only"])
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert code == 0
    printed = capsys.readouterr().out
    replies = {body["messages"][-1]["content"]: reply["choices"][0] for body, reply in proxy.exchanges}
    assert len(proxy.exchanges) == 2 * LIMIT
    # as measured: no content, the thinking in `reasoning`, the budget spent
    assert all(c["message"]["content"] is None and c["message"]["reasoning"] and c["finish_reason"] == "length"
               for c in replies.values())
    for split in SPLITS:
        vdir = out / "vllm_thinker" / "mixeval_hard" / VERSION
        lines = read_jsonl(vdir / f"vllm_thinker_{split}.jsonl")
        assert len(lines) == LIMIT
        for line in lines:
            sent = replies[line["formated_input"]]["message"]
            assert line["response"] == "" and line["thinking_cut_off"] is True
            assert line["reasoning"] == sent["reasoning"]
        assert f"{split}: {LIMIT} of {LIMIT} answers were cut off while thinking" in printed
        status = json.loads((vdir / f"status_{split}.json").read_text())["status"]
        assert status["thinking"] == {"answers": LIMIT, "with_thinking": LIMIT, "cut_off": LIMIT}
